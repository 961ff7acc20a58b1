"""A stdio MCP server (a plain JSON-RPC loop) that starts with no tools and grows one,
`late`, once the file named by its argument exists: it then lists it and sends
notifications/tools/list_changed. For tests/it/governance/reviews.rs: a server registered with an
empty list is pinned, so what it offers later is held for review.

usage: growing_server.py FLAG_FILE
"""
import json
import os
import sys
import threading
import time

FLAG = sys.argv[1]
lock = threading.Lock()
grown = threading.Event()


def send(msg):
    with lock:
        sys.stdout.write(json.dumps(msg) + "\n")
        sys.stdout.flush()


def watch():
    while not os.path.exists(FLAG):
        time.sleep(0.05)
    grown.set()
    send({"jsonrpc": "2.0", "method": "notifications/tools/list_changed"})


def answer(method, params):
    if method == "initialize":
        return {"protocolVersion": params.get("protocolVersion", "2025-11-25"),
                "capabilities": {"tools": {"listChanged": True}},
                "serverInfo": {"name": "growing", "version": "1"}}
    if method == "ping":
        return {}
    if method == "tools/list":
        tools = [{"name": "late", "description": "Arrives after registration",
                  "inputSchema": {"type": "object"}}]
        return {"tools": tools if grown.is_set() else []}
    if method == "tools/call":
        return {"content": [{"type": "text", "text": "late ran"}]}
    return None


threading.Thread(target=watch, daemon=True).start()
for line in sys.stdin:
    try:
        msg = json.loads(line)
    except ValueError:
        continue
    if "id" not in msg or "method" not in msg:
        continue
    result = answer(msg["method"], msg.get("params") or {})
    if result is None:
        send({"jsonrpc": "2.0", "id": msg["id"],
              "error": {"code": -32601, "message": f"method not found: {msg['method']}"}})
    else:
        send({"jsonrpc": "2.0", "id": msg["id"], "result": result})
