"""The official Python SDK 2.x as a client: it tries the stateless era (server/discover)
first and falls back to initialize. It asks for log messages at warning and above
(`log_level`, carried in each request's `_meta`).

usage: sdk2_client.py URL API_KEY   (prints one JSON line of what it saw)
"""
import asyncio
import json
import sys

import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client


logged = []


async def on_log(params) -> None:
    logged.append(params.level)


async def main(url: str, key: str) -> None:
    http = httpx2.AsyncClient(
        headers={"Authorization": f"Bearer {key}"},
        # The SDK's own defaults (what it builds when given no client): httpx's 5 s
        # read timeout would end a quiet stream (a listen between keep-alives).
        timeout=httpx2.Timeout(30.0, read=300.0),
    )
    async with Client(streamable_http_client(url, http_client=http),
                      log_level="warning", logging_callback=on_log) as client:
        tools = await client.list_tools()
        echo = await client.call_tool("alpha__echo", {"message": "from sdk 2"})
        # A tool that logs at four levels: only warning and above reach the client.
        await client.call_tool("alpha__progress", {"steps": 1, "log": ["debug", "info", "warning", "error"]})
        print(json.dumps({
            "protocol": client.protocol_version,
            "tools": [t.name for t in tools.tools],
            "echo": echo.content[0].text,
            "logged": logged,
        }))


asyncio.run(main(sys.argv[1], sys.argv[2]))
