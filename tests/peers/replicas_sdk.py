"""The official MCP Python SDK through the balancer in front of the replicas, for
tests/it/scale/replicas.rs.

    python replicas_sdk.py URL KEY

One session: initialize, then ten tools/call; prints {"ok": n, "errors": [...]}, waits for a
line on stdin (the test kills a replica meanwhile), then twenty more calls in the same
session and prints the same again.
"""

import asyncio
import json
import sys

from mcp import ClientSession
from mcp.client.streamable_http import streamablehttp_client


async def calls(session, n, tag):
    ok, errors = 0, []
    for i in range(n):
        try:
            r = await session.call_tool("mock__echo", {"message": f"{tag}-{i}"})
            if r.isError or r.content[0].text != f"{tag}-{i}":
                errors.append(f"{tag}-{i}: {r}")
            else:
                ok += 1
        except Exception as e:  # noqa: BLE001 - every failure is reported
            errors.append(f"{tag}-{i}: {type(e).__name__}: {e}")
    return ok, errors


async def main(url, key):
    headers = {"Authorization": f"Bearer {key}"}
    async with streamablehttp_client(url, headers=headers) as (read, write, _):
        async with ClientSession(read, write) as session:
            await session.initialize()
            ok, errors = await calls(session, 10, "before")
            print(json.dumps({"ok": ok, "errors": errors}), flush=True)
            await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
            ok, errors = await calls(session, 20, "after")
            print(json.dumps({"ok": ok, "errors": errors}), flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
