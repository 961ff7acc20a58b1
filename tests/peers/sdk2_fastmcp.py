"""The official Python SDK 2.x in auto mode calling, through the gateway, two FastMCP
(SDK 1.x, session era) tools: one asks the user (elicitation) and then a model
(sampling) during the call; the other reads the client's roots, logs at debug and
warning, and asks the user to open a URL. The client asks for log messages at info and
above.

usage: sdk2_fastmcp.py URL API_KEY PREFIX   (prints one JSON line; PREFIX names the
tools, as in `py__`)
"""
import asyncio
import json
import sys

import httpx2
from mcp import Client, types
from mcp.client.streamable_http import streamable_http_client

asked = []
logged = []


async def sampling(context, params):
    asked.append("sampling")
    return types.CreateMessageResult(
        role="assistant", model="m",
        content=types.TextContent(type="text", text=f"hello ({params.messages[0].content.text})"))


async def elicitation(context, params):
    if getattr(params, "mode", None) == "url":
        asked.append(f"url {params.url}")
        return types.ElicitResult(action="accept")
    asked.append("elicitation")
    return types.ElicitResult(action="accept", content={"name": "Grace"})


async def roots(context):
    asked.append("roots")
    return types.ListRootsResult(roots=[types.Root(uri="file:///srv/py", name="py")])


async def on_log(params) -> None:
    logged.append({"level": params.level, "data": params.data})


def outcome(result):
    return {"error": result.is_error, "text": result.content[0].text}


async def main(url: str, key: str, prefix: str) -> None:
    http = httpx2.AsyncClient(
        headers={"Authorization": f"Bearer {key}"},
        # The SDK's own defaults (what it builds when given no client): httpx's 5 s
        # read timeout would end a quiet stream (a listen between keep-alives).
        timeout=httpx2.Timeout(30.0, read=300.0),
    )
    async with Client(streamable_http_client(url, http_client=http),
                      sampling_callback=sampling, elicitation_callback=elicitation,
                      list_roots_callback=roots, log_level="info",
                      logging_callback=on_log) as client:
        greeted = await client.call_tool(f"{prefix}greet_asked", {})
        surveyed = await client.call_tool(f"{prefix}survey", {})
        print(json.dumps({"protocol": client.protocol_version, "greeted": outcome(greeted),
                          "surveyed": outcome(surveyed), "asked": asked, "logged": logged}))


asyncio.run(main(*sys.argv[1:4]))
