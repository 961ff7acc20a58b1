#!/usr/bin/env bash
# The gateway's resident memory per idle keep-alive connection (CONNS, default 10,000,
# each having made one request) and per open session (SESSIONS, default 1,000, each
# initialized and used once), from /proc in one run. The gateway runs with bounds raised
# to hold them all (connection limits, a 10-minute idle allowance) and the hard fd limit.
#
#   loadtest/memory.sh
#   CONNS=2000 SESSIONS=500 loadtest/memory.sh
set -euo pipefail
cd "$(dirname "$0")/.."
CONNS=${CONNS:-10000}
SESSIONS=${SESSIONS:-1000}
. loadtest/lib.sh

say "building release binaries"
cargo build --release --locked --bin metamcp --bin keyadm >&2
ulimit -n "$(ulimit -Hn)"
[ "$(ulimit -n)" -ge $((CONNS + 1000)) ] || die "open-file limit $(ulimit -n) is too low for CONNS=$CONNS"
export METAMCP_MAX_CONNECTIONS=$((CONNS + 100))
export METAMCP_MAX_CONNECTIONS_PER_ADDRESS=$((CONNS + 100))
export METAMCP_HEADER_TIMEOUT=10m
start_gateway 0

python3 - "$GW" "$ADMIN" "$CONNS" "$SESSIONS" "$gw_pid" <<'PY'
import asyncio, json, sys
host, port = sys.argv[1].split(":")
key, conns, sessions, pid = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]

def rss_kib():
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS"):
            return int(line.split()[1])

async def request(reader, writer, head, body=b""):
    writer.write(head + b"Content-Length: %d\r\n\r\n" % len(body) + body)
    await writer.drain()
    raw = await reader.readuntil(b"\r\n\r\n")
    headers = {}
    for line in raw.decode().split("\r\n")[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    await reader.readexactly(int(headers.get("content-length", "0")))
    return headers

async def main():
    # Each figure is a slope: the growth from the first half to all of them, so one-time
    # growth (allocator arenas, tables sized on first use) is not charged to each.
    # Sessions first, on a gateway that has not yet held thousands of connections.
    r, w = await asyncio.open_connection(host, int(port))
    post = (b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Accept: application/json, text/event-stream\r\nAuthorization: Bearer " + key.encode() + b"\r\n")
    init = json.dumps({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "memory", "version": "1"}}}).encode()
    async def sessions_of(n):
        for i in range(n):
            h = await request(r, w, post, init)
            sid = h["mcp-session-id"].encode()
            used = post + b"Mcp-Session-Id: " + sid + b"\r\nMCP-Protocol-Version: 2025-06-18\r\n"
            await request(r, w, used, b'{"jsonrpc":"2.0","method":"notifications/initialized"}')
            await request(r, w, used, b'{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{}}')
        await asyncio.sleep(1)
        return rss_kib()
    # Warm-up: the key's first use costs argon2 (19 MiB, freed after).
    await sessions_of(10)
    await asyncio.sleep(2)
    half = await sessions_of(sessions)
    full = await sessions_of(sessions)
    print(f"open sessions (initialized, used once): {sessions} then {2 * sessions}; gateway RSS "
          f"{half} KiB -> {full} KiB: {(full - half) * 1024 / sessions:.0f} bytes each")
    hold = []
    head = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    async def open_some(n):
        for i in range(n):
            r, w = await asyncio.open_connection(host, int(port))
            await request(r, w, head)
            hold.append((r, w))
        await asyncio.sleep(1)
        return rss_kib()
    half = await open_some(conns // 2)
    full = await open_some(conns - conns // 2)
    per_conn = (full - half) * 1024 / (conns - conns // 2)
    print(f"idle keep-alive connections: {conns}; gateway RSS {half} KiB at {conns // 2} -> "
          f"{full} KiB at {conns}: {per_conn:.0f} bytes each")
    for _, w in hold:
        w.close()

asyncio.run(main())
PY
