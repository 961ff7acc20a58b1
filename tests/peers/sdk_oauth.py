"""The official MCP Python SDK's OAuth flow against the gateway, for tests/it/identity/oauth.rs.

    python sdk_oauth.py GATEWAY_MCP_URL

The SDK client meets a 401, reads the resource metadata the gateway points to (RFC 9728),
discovers the authorization server, registers itself, asks for a code (the test server
redirects at once: no browser), exchanges it with PKCE for a token bound to the resource
(RFC 8707), and calls a tool through the gateway. Prints one JSON line.
"""

import asyncio
import json
import sys
import urllib.parse

import httpx
from mcp import ClientSession
from mcp.client.auth import OAuthClientProvider, TokenStorage
from mcp.client.streamable_http import streamablehttp_client
from mcp.shared.auth import OAuthClientInformationFull, OAuthClientMetadata, OAuthToken


class Memory(TokenStorage):
    def __init__(self):
        self.tokens = None
        self.client = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client = client_info


async def main(url: str) -> None:
    redirected = {}
    seen = {"authorize": None}

    async def redirect_handler(authorization_url: str) -> None:
        seen["authorize"] = authorization_url
        async with httpx.AsyncClient() as c:
            r = await c.get(authorization_url, follow_redirects=False)
        q = urllib.parse.parse_qs(urllib.parse.urlparse(r.headers["location"]).query)
        redirected["code"] = q["code"][0]
        redirected["state"] = q.get("state", [None])[0]

    async def callback_handler() -> tuple[str, str | None]:
        return redirected["code"], redirected["state"]

    storage = Memory()
    provider = OAuthClientProvider(
        server_url=url,
        client_metadata=OAuthClientMetadata(
            client_name="metamcp-sdk-test",
            redirect_uris=["http://127.0.0.1:9/callback"],
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
        ),
        storage=storage,
        redirect_handler=redirect_handler,
        callback_handler=callback_handler,
    )
    async with streamablehttp_client(url, auth=provider) as (read, write, _):
        async with ClientSession(read, write) as session:
            await session.initialize()
            tools = await session.list_tools()
            result = await session.call_tool("mock__echo", {"message": "signed in"})
    query = urllib.parse.parse_qs(urllib.parse.urlparse(seen["authorize"] or "").query)
    print(
        json.dumps(
            {
                "tools": [t.name for t in tools.tools],
                "text": result.content[0].text,
                "resource": query.get("resource", [None])[0],
                "scope": query.get("scope", [None])[0],
                "token_type": storage.tokens.token_type if storage.tokens else None,
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
