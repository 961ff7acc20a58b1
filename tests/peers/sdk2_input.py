"""The official Python SDK 2.x in auto mode answering a backend's questions through the
gateway: server-everything's sampling and elicitation tools, which ask the client during
the call. The gateway turns each question into `input_required`; the SDK answers
through its callbacks and retries.

usage: sdk2_input.py URL API_KEY   (prints one JSON line of what it saw)
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
    prompt = params.messages[0].content.text
    return types.CreateMessageResult(
        role="assistant", model="test-model",
        content=types.TextContent(type="text", text=f"sampled [{prompt}]"),
    )


async def elicitation(context, params):
    asked.append("elicitation")
    return types.ElicitResult(action="accept", content={"name": "Ada", "check": True})


async def main(url: str, key: str) -> None:
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {key}"})
    async with Client(
        streamable_http_client(url, http_client=http),
        sampling_callback=sampling,
        elicitation_callback=elicitation,
    ) as client:
        tools = [t.name for t in (await client.list_tools()).tools]
        sampled = await client.call_tool(
            "everything__trigger-sampling-request", {"prompt": "two words", "maxTokens": 5})
        elicited = await client.call_tool("everything__trigger-elicitation-request", {})
        print(json.dumps({
            "protocol": client.protocol_version,
            "tools": tools,
            "sampled": [c.text for c in sampled.content if c.type == "text"],
            "sampled_error": sampled.is_error,
            "elicited": [c.text for c in elicited.content if c.type == "text"],
            "elicited_error": elicited.is_error,
            "asked": asked,
        }))


asyncio.run(main(sys.argv[1], sys.argv[2]))
