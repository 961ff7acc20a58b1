"""The official Python SDK's stdio client driving `mcpc bridge` (the stdio relay) through
the gateway: lists the tools, calls a tool, a long one with progress notifications, and
cancels a slow one (notifications/cancelled with the request's id).

usage: sdk_bridge.py MCPC URL
  the key comes from METAMCP_KEY, as a pasted client entry gives it.
Prints one JSON line: {"tools", "echo", "long", "progress", "after_cancel"}.
"""
import asyncio
import json
import os
import sys

from mcp import ClientSession, StdioServerParameters, types
from mcp.client.stdio import stdio_client


async def main(mcpc: str, url: str) -> None:
    params = StdioServerParameters(
        command=mcpc,
        args=["bridge", "--url", url],
        env={"METAMCP_KEY": os.environ["METAMCP_KEY"], "PATH": os.environ.get("PATH", "")},
    )
    out = {}
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as s:
            await s.initialize()
            out["tools"] = sorted(t.name for t in (await s.list_tools()).tools)
            r = await s.call_tool("everything__echo", {"message": "over the bridge"})
            out["echo"] = r.content[0].text
            progress = []

            async def on_progress(p, total, message):
                progress.append(p)

            r = await s.call_tool(
                "everything__trigger-long-running-operation",
                {"duration": 1, "steps": 4},
                progress_callback=on_progress,
            )
            out["long"] = r.content[0].text
            out["progress"] = progress
            # A slow call, cancelled by the client while in flight.
            slow = asyncio.ensure_future(s.call_tool("mock__sleep", {"ms": 20000}))
            await asyncio.sleep(0.5)
            request_id = s._request_id - 1
            await s.send_notification(
                types.ClientNotification(
                    types.CancelledNotification(
                        params=types.CancelledNotificationParams(requestId=request_id, reason="test")
                    )
                )
            )
            slow.cancel()
            r = await s.call_tool("mock__echo", {"message": "still here"})
            out["after_cancel"] = r.content[0].text
    print(json.dumps(out))


asyncio.run(main(sys.argv[1], sys.argv[2]))
