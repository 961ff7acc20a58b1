"""The official Python SDK 2.x in auto mode calling a server that needs the caller's own
account, for tests/it/peers/sdks.rs. The gateway sends it to the page where the account is
connected (a URL input request); its elicitation callback goes there as a browser would
(the authorization server's login as USER, then the gateway's callback) and accepts, and
the SDK retries the call.

usage: sdk2_consent.py URL API_KEY USER TOOL   (prints one JSON line of what it saw)
"""
import asyncio
import json
import sys

import httpx2
from mcp import Client, types
from mcp.client.streamable_http import streamable_http_client

from consent_browser import consenting

URL, KEY, USER, TOOL = sys.argv[1:5]
urls = []
pages = []
elicitation = consenting(types, USER, urls, pages)


async def main():
    http = httpx2.AsyncClient(
        headers={"Authorization": f"Bearer {KEY}"},
        # The SDK's own defaults (what it builds when given no client): httpx's 5 s
        # read timeout would end a quiet stream (a listen between keep-alives).
        timeout=httpx2.Timeout(30.0, read=300.0),
    )
    async with Client(streamable_http_client(URL, http_client=http),
                      elicitation_callback=elicitation) as client:
        result = await client.call_tool(TOOL, {})
        print(json.dumps({
            "protocol": client.protocol_version,
            "text": [c.text for c in result.content if c.type == "text"],
            "is_error": result.is_error,
            "urls": urls,
            "pages": pages,
        }))


asyncio.run(main())
