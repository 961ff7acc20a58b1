"""The official Python SDK 2.x listening (2026-07-28 `subscriptions/listen`): it opens a
stream for tool-list changes and one resource, prints the honoured subset once the ack
has arrived (a line "acked ..."), then waits for one event of each kind it asked for:
the test adds a server through REST and touches the resource when it sees that line.

With EXPECT (a tool name), a tool-list change counts once the list holds that tool:
behind a balancer the change may be heard from one replica (or be another change, such
as a backend's child announcing its tools) and the list read from another that has not
caught up yet, so the list is read again (past the SDK's cache, which keeps the lagging
list for its ttlMs), for up to 10 s, until it holds the tool.

usage: sdk2_listen.py URL API_KEY URI [EXPECT]   (prints JSON lines of what it saw)
"""
import asyncio
import json
import sys

import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.client.subscriptions import ResourceUpdated, ToolsListChanged


async def main(url: str, key: str, uri: str, expect: str | None) -> None:
    http = httpx2.AsyncClient(
        headers={"Authorization": f"Bearer {key}"},
        # The SDK's own defaults (what it builds when given no client): httpx's 5 s
        # read timeout would end a quiet stream (a listen between keep-alives).
        timeout=httpx2.Timeout(30.0, read=300.0),
    )
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
                        names = sorted(t.name for t in (await client.list_tools()).tools)
                        deadline = asyncio.get_running_loop().time() + 10
                        while expect and expect not in names and asyncio.get_running_loop().time() < deadline:
                            await asyncio.sleep(0.2)
                            # Past the SDK's cache: the list first read may be a lagging
                            # replica's, cached for its ttlMs.
                            listed = await client.list_tools(cache_mode="refresh")
                            names = sorted(t.name for t in listed.tools)
                        if not expect or expect in names:
                            seen.add("tools")
                        print(json.dumps({"tools": names}), flush=True)
                    elif isinstance(event, ResourceUpdated):
                        seen.add("resource")
                        print(json.dumps({"updated": event.uri}), flush=True)
                    else:
                        print(json.dumps({"other": type(event).__name__}), flush=True)
                    if seen == {"tools", "resource"}:
                        break
        print(json.dumps({"done": sorted(seen), "protocol": client.protocol_version}), flush=True)


asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] if len(sys.argv) > 4 else None))
