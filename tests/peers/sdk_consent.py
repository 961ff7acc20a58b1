"""The official Python SDK 1.x (session era) calling a server that needs the caller's own
account, for tests/it/peers/sdks.rs. The gateway asks it, on the call's stream, to send the user
to the page where the account is connected (URL elicitation); its callback goes there as
a browser would (the authorization server's login as USER, then the gateway's callback)
and accepts, and the call goes on.

usage: sdk_consent.py URL API_KEY USER TOOL   (prints one JSON line of what it saw)
"""
import asyncio
import json
import sys

from mcp import ClientSession, types
from mcp.client.streamable_http import streamablehttp_client

from consent_browser import consenting

URL, KEY, USER, TOOL = sys.argv[1:5]
urls = []
pages = []
elicitation = consenting(types, USER, urls, pages)


async def main():
    headers = {"Authorization": f"Bearer {KEY}"}
    async with streamablehttp_client(URL, headers=headers) as (read, write, _):
        async with ClientSession(read, write, elicitation_callback=elicitation) as session:
            init = await session.initialize()
            result = await session.call_tool(TOOL, {})
            print(json.dumps({
                "protocol": init.protocolVersion,
                "text": [c.text for c in result.content if c.type == "text"],
                "is_error": result.isError,
                "urls": urls,
                "pages": pages,
            }))


asyncio.run(main())
