"""The official Python SDK 2.x in auto mode calling, through the gateway, a FastMCP
(SDK 1.x, session era) tool that asks the user (elicitation) and then a model
(sampling) during the call.

usage: sdk2_fastmcp.py URL API_KEY TOOL   (prints one JSON line)
"""
import asyncio
import json
import sys

import httpx2
from mcp import Client, types
from mcp.client.streamable_http import streamable_http_client

asked = []


async def sampling(context, params):
    asked.append("sampling")
    return types.CreateMessageResult(
        role="assistant", model="m",
        content=types.TextContent(type="text", text=f"hello ({params.messages[0].content.text})"))


async def elicitation(context, params):
    asked.append("elicitation")
    return types.ElicitResult(action="accept", content={"name": "Grace"})


async def main(url: str, key: str, tool: str) -> None:
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {key}"})
    async with Client(streamable_http_client(url, http_client=http),
                      sampling_callback=sampling, elicitation_callback=elicitation) as client:
        result = await client.call_tool(tool, {})
        print(json.dumps({"protocol": client.protocol_version, "error": result.is_error,
                          "text": result.content[0].text, "asked": asked}))


asyncio.run(main(*sys.argv[1:4]))
