"""The official Python SDK as a client of the gateway: lists the tools, calls some.
It declares sampling and elicitation: it answers every sampling request with "sampled by
the test" and accepts every elicitation with {"response": "elicited by the test"}.

usage: sdk_tools.py URL API_KEY CALLS_JSON
  CALLS_JSON: [[tool, arguments], ...]
Prints one JSON line: {"tools": [...], "results": [[is_error, first text], ...],
"asked": [the methods of the server's requests it answered, in order]}.
"""
import asyncio
import json
import sys

from mcp import ClientSession, types
from mcp.client.streamable_http import streamablehttp_client


asked = []


async def sample(context, params: types.CreateMessageRequestParams) -> types.CreateMessageResult:
    asked.append("sampling/createMessage")
    return types.CreateMessageResult(
        role="assistant",
        content=types.TextContent(type="text", text="sampled by the test"),
        model="test",
    )


async def elicit(context, params: types.ElicitRequestParams) -> types.ElicitResult:
    asked.append("elicitation/create")
    return types.ElicitResult(action="accept", content={"response": "elicited by the test"})


async def main(url: str, key: str, calls: list) -> None:
    headers = {"Authorization": f"Bearer {key}"}
    async with streamablehttp_client(url, headers=headers) as (read, write, _):
        async with ClientSession(
            read, write, sampling_callback=sample, elicitation_callback=elicit
        ) as session:
            await session.initialize()
            tools = await session.list_tools()
            results = []
            for name, args in calls:
                r = await session.call_tool(name, args)
                text = next((c.text for c in r.content if getattr(c, "text", None)), "")
                results.append([r.isError, text])
            print(json.dumps({"tools": [t.name for t in tools.tools], "results": results,
                              "asked": asked}))


asyncio.run(main(sys.argv[1], sys.argv[2], json.loads(sys.argv[3])))
