"""The official Python SDK 2.x in auto mode calling mockmcp's `ask` tool, which asks
the client one question a round (elicitation, sampling, roots): each round is an
`input_required` answer and a retry. Behind a round-robin balancer every retry may land
on another replica.

usage: sdk2_rounds.py URL API_KEY   (prints one JSON line: the tool's answers)
"""
import asyncio
import json
import sys

import httpx2
from mcp import Client, types
from mcp.client.streamable_http import streamable_http_client


async def sampling(context, params):
    return types.CreateMessageResult(
        role="assistant", model="m", content=types.TextContent(type="text", text="sampled"))


async def elicitation(context, params):
    return types.ElicitResult(action="accept", content={"name": params.message})


async def roots(context):
    return types.ListRootsResult(roots=[types.Root(uri="file:///srv", name="srv")])


async def main(url: str, key: str) -> None:
    http = httpx2.AsyncClient(
        headers={"Authorization": f"Bearer {key}"},
        # The SDK's own defaults (what it builds when given no client): httpx's 5 s
        # read timeout would end a quiet stream (a listen between keep-alives).
        timeout=httpx2.Timeout(30.0, read=300.0),
    )
    rounds = [
        [{"method": "elicitation/create", "key": "first",
          "params": {"message": "one", "requestedSchema": {"type": "object", "properties": {"name": {"type": "string"}}}}}],
        [{"method": "sampling/createMessage", "key": "second",
          "params": {"messages": [{"role": "user", "content": {"type": "text", "text": "two"}}], "maxTokens": 4}}],
        [{"method": "roots/list", "key": "third"}],
        [{"method": "elicitation/create", "key": "fourth",
          "params": {"message": "four", "requestedSchema": {"type": "object", "properties": {"name": {"type": "string"}}}}}],
    ]
    async with Client(
        streamable_http_client(url, http_client=http),
        sampling_callback=sampling,
        elicitation_callback=elicitation,
        list_roots_callback=roots,
    ) as client:
        result = await client.call_tool("mock__ask", {"rounds": rounds})
        print(json.dumps({
            "protocol": client.protocol_version,
            "error": result.is_error,
            "answers": json.loads(result.content[0].text),
        }))


asyncio.run(main(sys.argv[1], sys.argv[2]))
