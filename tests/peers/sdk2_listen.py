"""The official Python SDK 2.x listening (2026-07-28 `subscriptions/listen`): it opens a
stream for tool-list changes and one resource, prints the honoured subset once the ack
has arrived (a line "acked ..."), then waits for one event of each kind it asked for:
the test adds a server through REST and touches the resource when it sees that line.

usage: sdk2_listen.py URL API_KEY URI   (prints JSON lines of what it saw)
"""
import asyncio
import json
import sys

import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.client.subscriptions import ResourceUpdated, ToolsListChanged


async def main(url: str, key: str, uri: str) -> None:
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {key}"})
    async with Client(streamable_http_client(url, http_client=http)) as client:
        async with client.listen(tools_list_changed=True, resource_subscriptions=[uri]) as sub:
            honored = sub.honored
            print(json.dumps({"acked": {
                "tools": bool(honored.tools_list_changed),
                "prompts": bool(honored.prompts_list_changed),
                "uris": list(honored.resource_subscriptions or []),
            }}), flush=True)
            seen = set()
            async with asyncio.timeout(30):
                async for event in sub:
                    if isinstance(event, ToolsListChanged):
                        seen.add("tools")
                        tools = await client.list_tools()
                        print(json.dumps({"tools": sorted(t.name for t in tools.tools)}), flush=True)
                    elif isinstance(event, ResourceUpdated):
                        seen.add("resource")
                        print(json.dumps({"updated": event.uri}), flush=True)
                    else:
                        print(json.dumps({"other": type(event).__name__}), flush=True)
                    if seen == {"tools", "resource"}:
                        break
        print(json.dumps({"done": sorted(seen), "protocol": client.protocol_version}), flush=True)


asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3]))
