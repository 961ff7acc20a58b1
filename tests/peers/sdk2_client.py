"""The official Python SDK 2.x as a client: it tries the stateless era (server/discover)
first and falls back to initialize.

usage: sdk2_client.py URL API_KEY   (prints one JSON line of what it saw)
"""
import asyncio
import json
import sys

import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client


async def main(url: str, key: str) -> None:
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {key}"})
    async with Client(streamable_http_client(url, http_client=http)) as client:
        tools = await client.list_tools()
        echo = await client.call_tool("alpha__echo", {"message": "from sdk 2"})
        print(json.dumps({
            "protocol": client.protocol_version,
            "tools": [t.name for t in tools.tools],
            "echo": echo.content[0].text,
        }))


asyncio.run(main(sys.argv[1], sys.argv[2]))
