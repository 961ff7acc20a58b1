#!/usr/bin/env python3
"""A metamcp guardrail that masks e-mail addresses in tool results (docs/guides/guardrails.md).

Run it, then point a namespace's result guardrail at it:

    python3 tools/redact/redact.py --port 8088
    curl -X PUT .../api/v1/namespaces/team -d '{"guardrails": [{"url":
        "http://127.0.0.1:8088/", "on": ["result"], "failure": "closed"}]}'

It answers each POST with {"decision": "allow"} when the result holds no address, and
{"decision": "mutate", "result": ...} with every address in every string replaced by
[email redacted] when it does. Only the Python 3 standard library.
"""

import argparse
import json
import re
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
MASK = "[email redacted]"
MAX_BODY = 8 << 20


def masked(value):
    """value with every e-mail address in its strings masked, and whether any was."""
    if isinstance(value, str):
        new, n = EMAIL.subn(MASK, value)
        return new, n > 0
    if isinstance(value, list):
        out = [masked(v) for v in value]
        return [v for v, _ in out], any(c for _, c in out)
    if isinstance(value, dict):
        out = {k: masked(v) for k, v in value.items()}
        return {k: v for k, (v, _) in out.items()}, any(c for _, c in out.values())
    return value, False


def decide(payload):
    """The answer to one guardrail payload."""
    if payload.get("phase") != "result":
        return {"decision": "allow"}
    result, changed = masked(payload.get("result"))
    if not changed:
        return {"decision": "allow"}
    return {"decision": "mutate", "result": result, "reason": "e-mail addresses masked"}


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            return self.answer(413, {"error": "payload too large"})
        try:
            payload = json.loads(self.rfile.read(length))
        except ValueError:
            return self.answer(400, {"error": "the payload is not JSON"})
        self.answer(200, decide(payload))

    def answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, fmt, *args):
        pass


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8088, help="0: any free port")
    args = parser.parse_args()
    server = ThreadingHTTPServer((args.host, args.port), Handler)
    print(f"listening on http://{args.host}:{server.server_port}/", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
