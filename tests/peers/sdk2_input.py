"""The official Python SDK 2.x in auto mode answering a backend's questions through the
gateway: server-everything's tools that ask the client during the call (sampling, a
form elicitation, a URL elicitation asked as a request and as error -32042, the roots
list). The gateway turns each question into `input_required`; the SDK answers through
its callbacks and retries. It asks for log messages at info and above (`log_level`):
server-everything logs at info when it has the client's roots.

usage: sdk2_input.py URL API_KEY   (prints one JSON line of what it saw)
"""
import asyncio
import json
import sys

import httpx2
from mcp import Client, types
from mcp.client.streamable_http import streamable_http_client

asked = []
urls = []
logged = []


async def sampling(context, params):
    asked.append("sampling")
    prompt = params.messages[0].content.text
    return types.CreateMessageResult(
        role="assistant", model="test-model",
        content=types.TextContent(type="text", text=f"sampled [{prompt}]"),
    )


async def elicitation(context, params):
    if getattr(params, "mode", None) == "url":
        if "url" not in asked:
            asked.append("url")
        urls.append(params.url)
        return types.ElicitResult(action="accept")
    asked.append("elicitation")
    return types.ElicitResult(action="accept", content={"name": "Ada", "check": True})


async def roots(context):
    if "roots" not in asked:
        asked.append("roots")
    return types.ListRootsResult(roots=[types.Root(uri="file:///srv/project", name="project")])


async def on_log(params) -> None:
    logged.append({"level": params.level, "data": params.data})


def texts(result):
    return [c.text for c in result.content if c.type == "text"]


async def main(url: str, key: str) -> None:
    http = httpx2.AsyncClient(
        headers={"Authorization": f"Bearer {key}"},
        # The SDK's own defaults (what it builds when given no client): httpx's 5 s
        # read timeout would end a quiet stream (a listen between keep-alives).
        timeout=httpx2.Timeout(30.0, read=300.0),
    )
    async with Client(
        streamable_http_client(url, http_client=http),
        sampling_callback=sampling,
        elicitation_callback=elicitation,
        list_roots_callback=roots,
        log_level="info",
        logging_callback=on_log,
    ) as client:
        tools = [t.name for t in (await client.list_tools()).tools]
        sampled = await client.call_tool(
            "everything__trigger-sampling-request", {"prompt": "two words", "maxTokens": 5})
        elicited = await client.call_tool("everything__trigger-elicitation-request", {})
        browsed = await client.call_tool(
            "everything__trigger-url-elicitation", {"url": "https://example.com/consent"})
        required = await client.call_tool(
            "everything__trigger-url-elicitation",
            {"url": "https://example.com/login", "errorPath": True})
        rooted = await client.call_tool("everything__get-roots-list", {})
        print(json.dumps({
            "protocol": client.protocol_version,
            "tools": tools,
            "sampled": texts(sampled),
            "sampled_error": sampled.is_error,
            "elicited": texts(elicited),
            "elicited_error": elicited.is_error,
            "browsed": texts(browsed),
            "browsed_error": browsed.is_error,
            "required": texts(required),
            "required_error": required.is_error,
            "urls": urls,
            "rooted": texts(rooted),
            "rooted_error": rooted.is_error,
            "asked": asked,
            "logged": logged,
        }))


asyncio.run(main(sys.argv[1], sys.argv[2]))
