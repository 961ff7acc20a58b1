#!/usr/bin/env bash
# Bytes memcpy moves per forwarded tools/call, this build against another revision,
# counted by gdb: the futures a call moves whole (an `.await` of an `async fn` builds the
# callee's future and then copies it, whole, into the caller's) show up here, where
# callgrind's instruction count of memcpy mixes bytes with calls.
#
#   BASELINE=7af7de7 loadtest/copies.sh
#   BASELINE=7af7de7 CALLS=500 loadtest/copies.sh
#   BASELINE=7af7de7 WHERE=1 loadtest/copies.sh   # and who makes the copies over 256 bytes
#
# Each gateway (audit off, its own embedded cluster) runs beside one mockmcp; 200 calls
# on one connection warm it up, then gdb attaches, counts every call of glibc's memcpy and
# memmove (whichever variants the CPU's ifunc picked) with its length, while CALLS more
# calls (default 300) go through, one at a time. Sizes are bucketed so the large copies,
# the futures', stand apart from the many small ones. The other revision is built as
# loadtest/run.sh builds it (a worktree in target/baseline/<rev>, kept).
set -euo pipefail
cd "$(dirname "$0")/.."
CALLS=${CALLS:-300}

. loadtest/lib.sh

[ -n "${BASELINE:-}" ] || die "BASELINE=<revision> is needed"
for t in gdb curl python3; do
    command -v $t >/dev/null || die "$t is needed (Debian: gdb)"
done
say "building release binaries"
cargo build --release --locked --workspace --bin metamcp --bin keyadm --bin mockmcp --bin mcpload >&2
build_baseline

start_mock

# The gdb script: a breakpoint on each memcpy/memmove variant that never stops, adding
# the length (rdx, the third argument) to its bucket.
cat > "$work/count.py" <<'EOF'
import gdb
import os
BUCKETS = [64, 256, 1024, 4096, 1 << 62]
WHERE = os.environ.get("WHERE") == "1"
seen = {"calls": 0, "bytes": 0, "by": [[0, 0] for _ in BUCKETS], "where": {}}

class Copy(gdb.Breakpoint):
    def stop(self):
        n = int(gdb.parse_and_eval("$rdx"))
        seen["calls"] += 1
        seen["bytes"] += n
        for i, top in enumerate(BUCKETS):
            if n <= top:
                seen["by"][i][0] += 1
                seen["by"][i][1] += n
                break
        if WHERE and n > 256:
            # The function that asked for the copy: memcpy's caller (line tables name it).
            older = gdb.selected_frame().older()
            who = (older.name() if older else None) or "?"
            sal = older.find_sal() if older else None
            if sal and sal.symtab:
                who += f" {sal.symtab.filename.rsplit('/src/', 1)[-1]}:{sal.line}"
            key = f"{n:6} {who}"
            seen["where"][key] = seen["where"].get(key, 0) + 1
        return False

names = [f"__{op}_{isa}_unaligned{erms}" for op in ("memcpy", "memmove")
         for isa in ("sse2", "avx", "evex", "avx512")
         for erms in ("", "_erms")]
for name in names:
    if gdb.lookup_global_symbol(name) or gdb.lookup_static_symbol(name):
        Copy(name, internal=True)
gdb.execute("set pagination off")
print("COUNTING", flush=True)
try:
    gdb.execute("continue")
except gdb.error:
    pass
print("RESULT " + repr(seen), flush=True)
EOF

# count NAME BIN_DIR: prints "NAME <python dict of the counts>".
count() {
    local name=$1 bin=$2
    AUDIT=off start_counted "$name" "$bin"
    local pid=$counted_pid addr=$counted_addr admin=$counted_admin
    local load=("$BIN/mcpload" --url "http://$addr/mcp" --key "$admin" --tool mock__echo
        --args '{"message":"hello from mcpload"}' --connections 1)
    "${load[@]}" --requests 200 >/dev/null
    WHERE=${WHERE:-} gdb -p "$pid" -batch -nx -x "$work/count.py" > "$work/$name.gdb" 2>&1 &
    local gdb_pid=$!
    for _ in $(seq 600); do grep -q COUNTING "$work/$name.gdb" && break; sleep 0.1; done
    grep -q COUNTING "$work/$name.gdb" || die "gdb did not attach: $(cat "$work/$name.gdb")"
    "${load[@]}" --requests "$CALLS" | grep -q '^RESULT.* errors=0' || die "$name: calls failed"
    kill -INT "$gdb_pid"
    wait "$gdb_pid" 2>/dev/null || true
    kill "$pid"
    wait "$pid" 2>/dev/null || true
    local result
    result=$(grep -o 'RESULT .*' "$work/$name.gdb" | cut -d' ' -f2-)
    [ -n "$result" ] || die "$name: gdb counted nothing: $(tail -5 "$work/$name.gdb")"
    echo "$name $result"
}

say "counting this build"
current=$(count current "$BIN")
say "counting $BASELINE"
baseline=$(count baseline "$base_dir/target/release")
python3 - "$CALLS" "$BASELINE" "$current" "$baseline" <<'EOF'
import ast, sys
calls, rev = int(sys.argv[1]), sys.argv[2]
rows = [(l.split(" ", 1)[0], ast.literal_eval(l.split(" ", 1)[1])) for l in sys.argv[3:]]
labels = ["<=64", "65-256", "257-1K", "1K-4K", ">4K"]
print("per call      copies     bytes  " + "  ".join(f"{b:>14}" for b in labels))
for name, s in rows:
    by = "  ".join(f"{n / calls:5.1f} {b / calls:7.0f}" for n, b in s["by"])
    print(f"{name:10} {s['calls'] / calls:8.1f} {s['bytes'] / calls:9.0f}  {by}")
cur, base = rows[0][1], rows[1][1]
print(f"this build / {rev}: bytes {cur['bytes'] / base['bytes']:.3f}, "
      f"copies {cur['calls'] / base['calls']:.3f}")
for name, s in rows:
    if s["where"]:
        print(f"{name}: copies over 256 bytes per call, by size and the function asking")
        for key, n in sorted(s["where"].items(), key=lambda kv: -kv[1]):
            print(f"  {n / calls:5.2f}  {key}")
EOF
