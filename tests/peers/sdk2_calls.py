"""The official Python SDK 2.x as a client, in the mode given (auto: 2026-07-28 first,
falling back to a session; legacy: a session): lists the tools and calls the ones named.

usage: sdk2_calls.py URL API_KEY auto|legacy CALLS_JSON
  CALLS_JSON: [[tool, arguments], ...]
Prints one JSON line: {"protocol", "tools": [...], "results": [[is_error, text], ...]}.
"""
import asyncio
import json
import sys

import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError


async def main(url: str, key: str, mode: str, calls: list) -> None:
    http = httpx2.AsyncClient(
        headers={"Authorization": f"Bearer {key}"},
        timeout=httpx2.Timeout(30.0, read=300.0),
    )
    async with Client(streamable_http_client(url, http_client=http), mode=mode) as client:
        tools = await client.list_tools()
        results = []
        for name, args in calls:
            try:
                r = await client.call_tool(name, args)
                text = "".join(c.text for c in r.content if getattr(c, "text", None))
                results.append([bool(r.is_error), text])
            except MCPError as e:
                results.append([True, f"MCPError {e.error.code}: {e.error.message}"])
        print(json.dumps({
            "protocol": client.protocol_version,
            "tools": sorted(t.name for t in tools.tools),
            "results": results,
        }))


asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])))
