"""The official Python SDK as a client of the gateway: initialize, list, call.

usage: sdk_client.py URL API_KEY   (prints one JSON line of what it saw)
"""
import asyncio
import json
import sys

from mcp import ClientSession
from mcp.client.streamable_http import streamablehttp_client


async def main(url: str, key: str) -> None:
    headers = {"Authorization": f"Bearer {key}"}
    async with streamablehttp_client(url, headers=headers) as (read, write, _):
        async with ClientSession(read, write) as session:
            init = await session.initialize()
            tools = await session.list_tools()
            echo = await session.call_tool("alpha__echo", {"message": "from python"})
            # Concurrent calls on one session: every one carries its own id upstream.
            adds = await asyncio.gather(
                *[session.call_tool("alpha__add", {"a": i, "b": 1}) for i in range(8)]
            )
            failed = await session.call_tool("alpha__fail", {})
            print(json.dumps({
                "server": init.serverInfo.name,
                "protocol": init.protocolVersion,
                "tools": [t.name for t in tools.tools],
                "echo": echo.content[0].text,
                "adds": [a.content[0].text for a in adds],
                "fail_is_error": failed.isError,
            }))


asyncio.run(main(sys.argv[1], sys.argv[2]))
