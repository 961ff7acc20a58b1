"""The official Python SDK 2.x, in either era, calling through the gateway a 2026-07-28
backend (tests/conformance/modern_fixture.py) whose tools ask the user: once, then over
two rounds. Then a tool of the backend changes its tool list: in auto mode (2026-07-28)
the client listens for it (`subscriptions/listen`); in legacy mode (a session) it waits
for the gateway's `notifications/tools/list_changed`. Either way it lists the tools again.

usage: sdk2_modern.py URL API_KEY auto|legacy   (prints one JSON line)
"""
import asyncio
import json
import sys

import httpx2
from mcp import Client, types
from mcp.client.streamable_http import streamable_http_client
from mcp.client.subscriptions import ToolsListChanged

ANSWERS = {"name": "Grace", "color": "teal", "context": "tea"}
asked = []
changed = asyncio.Event()


async def elicitation(context, params):
    schema = params.requested_schema
    schema = schema.model_dump() if hasattr(schema, "model_dump") else dict(schema)
    field = next(iter(schema.get("properties") or {"name": {}}))
    asked.append(field)
    return types.ElicitResult(action="accept", content={field: ANSWERS.get(field, "?")})


async def messages(message):
    inner = getattr(message, "root", message)
    if getattr(inner, "method", None) == "notifications/tools/list_changed":
        changed.set()


def text_of(result):
    return " ".join(c.text for c in result.content if getattr(c, "type", "") == "text")


async def main(url: str, key: str, mode: str) -> None:
    http = httpx2.AsyncClient(
        headers={"Authorization": f"Bearer {key}"},
        # The SDK's own defaults (what it builds when given no client): httpx's 5 s
        # read timeout would end a quiet stream (a listen between keep-alives).
        timeout=httpx2.Timeout(30.0, read=300.0),
    )
    out = {}
    kwargs = {"elicitation_callback": elicitation, "mode": mode}
    if mode == "legacy":
        kwargs["message_handler"] = messages
    async with Client(streamable_http_client(url, http_client=http), **kwargs) as client:
        out["protocol"] = client.protocol_version
        once = await client.call_tool("test_input_required_result_elicitation", {})
        out["once"] = text_of(once)
        twice = await client.call_tool("test_input_required_result_multi_round", {})
        out["twice"] = text_of(twice)
        out["asked"] = list(asked)
        before = {t.name for t in (await client.list_tools()).tools}
        if mode == "legacy":
            await client.call_tool("toggle_extra_tool", {})
            async with asyncio.timeout(30):
                await changed.wait()
        else:
            async with client.listen(tools_list_changed=True) as sub:
                await client.call_tool("toggle_extra_tool", {})
                async with asyncio.timeout(30):
                    async for event in sub:
                        if isinstance(event, ToolsListChanged):
                            break
        after = {t.name for t in (await client.list_tools()).tools}
        out["added"] = sorted(after - before)
    print(json.dumps(out), flush=True)


asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3]))
