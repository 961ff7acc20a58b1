"""The official Python SDK's own OAuth pieces as an upstream that wants each user's
account, for tests/it/peers/sdks.rs: a small authorization server (the SDK's auth routes over an
in-memory provider: dynamic registration, PKCE, rotated refresh tokens, revocation) and a
FastMCP resource server whose token verifier takes only that server's live tokens issued
for its own resource.

usage: sdk_auth_servers.py TOKEN_SECONDS

Serves FastMCP at http://127.0.0.1:MCP_PORT/mcp and the authorization server at
http://127.0.0.1:AS_PORT, ports the kernel picks, printed first as "MCP_PORT AS_PORT". Its authorization endpoint sends the browser to
/login?request=ID, and /login?request=ID&user=NAME approves as NAME (no password: a test
signs in by naming the user). The tool `account` answers the user of the call's token.
GET /control/stats on the authorization server shows what it issued and saw, tokens
included (the test looks for them where they must not be).
"""
import asyncio
import secrets
import sys
import time

import uvicorn
from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.provider import (
    AccessToken,
    AuthorizationCode,
    RefreshToken,
    construct_redirect_uri,
)
from mcp.server.auth.routes import create_auth_routes
from mcp.server.auth.settings import AuthSettings, ClientRegistrationOptions, RevocationOptions
from mcp.server.fastmcp import FastMCP
from mcp.shared.auth import OAuthToken
from pydantic import AnyHttpUrl
from starlette.applications import Starlette
from starlette.responses import JSONResponse, RedirectResponse
from starlette.routing import Route

from serve import announce, bind

MCP_SOCK, AS_SOCK = bind(), bind()
MCP_PORT, AS_PORT = MCP_SOCK.getsockname()[1], AS_SOCK.getsockname()[1]
TOKEN_SECONDS = int(sys.argv[1])
ISSUER = f"http://127.0.0.1:{AS_PORT}"
RESOURCE = f"http://127.0.0.1:{MCP_PORT}/mcp"


class Provider:
    def __init__(self):
        self.clients, self.pending, self.codes = {}, {}, {}
        self.access, self.refresh = {}, {}
        self.issued = []
        self.stats = {"refreshed": 0, "reused": 0, "revoked": 0, "codes": 0}

    async def get_client(self, client_id):
        return self.clients.get(client_id)

    async def register_client(self, info):
        self.clients[info.client_id] = info

    async def authorize(self, client, params):
        request = secrets.token_urlsafe(16)
        self.pending[request] = (client, params)
        return f"{ISSUER}/login?request={request}"

    async def load_authorization_code(self, client, code):
        found = self.codes.get(code)
        return found if found and found.client_id == client.client_id else None

    def issue(self, client_id, scopes, resource, subject):
        access, refresh = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        self.access[access] = AccessToken(
            token=access, client_id=client_id, scopes=scopes,
            expires_at=int(time.time()) + TOKEN_SECONDS, resource=resource, subject=subject)
        self.refresh[refresh] = RefreshToken(
            token=refresh, client_id=client_id, scopes=scopes, resource=resource, subject=subject)
        self.issued += [access, refresh]
        return OAuthToken(access_token=access, token_type="Bearer", expires_in=TOKEN_SECONDS,
                          refresh_token=refresh, scope=" ".join(scopes))

    async def exchange_authorization_code(self, client, code):
        del self.codes[code.code]
        self.stats["codes"] += 1
        return self.issue(client.client_id, code.scopes, code.resource, code.subject)

    async def load_refresh_token(self, client, token):
        found = self.refresh.get(token)
        if found is None and token in self.issued:
            self.stats["reused"] += 1
        return found if found and found.client_id == client.client_id else None

    async def exchange_refresh_token(self, client, refresh, scopes):
        # Rotation: the refresh token works once.
        del self.refresh[refresh.token]
        self.stats["refreshed"] += 1
        return self.issue(client.client_id, scopes or refresh.scopes, refresh.resource,
                          refresh.subject)

    async def load_access_token(self, token):
        found = self.access.get(token)
        if found is None or (found.expires_at and found.expires_at < time.time()):
            return None
        return found

    async def revoke_token(self, token):
        self.stats["revoked"] += 1
        for kept in (self.access, self.refresh):
            for k in [k for k, v in kept.items() if v.subject == token.subject
                      and v.client_id == token.client_id]:
                del kept[k]


provider = Provider()


class Verifier:
    """The resource server's check: a live token of this server's, for this resource."""

    async def verify_token(self, token):
        found = await provider.load_access_token(token)
        if found is None or (found.resource or "").rstrip("/") != RESOURCE:
            return None
        return found


async def login(request):
    pending = provider.pending.pop(request.query_params.get("request", ""), None)
    user = request.query_params.get("user")
    if pending is None or not user:
        return JSONResponse({"error": "unknown request, or no user"}, status_code=400)
    client, params = pending
    code = secrets.token_urlsafe(24)
    provider.codes[code] = AuthorizationCode(
        code=code, scopes=params.scopes or ["user"], expires_at=time.time() + 300,
        client_id=client.client_id, code_challenge=params.code_challenge,
        redirect_uri=params.redirect_uri,
        redirect_uri_provided_explicitly=params.redirect_uri_provided_explicitly,
        resource=params.resource, subject=user)
    to = construct_redirect_uri(str(params.redirect_uri), code=code, state=params.state)
    return RedirectResponse(to, status_code=302)


async def stats(_request):
    return JSONResponse({**provider.stats, "tokens": provider.issued,
                         "live": len(provider.access)})


authorization_server = Starlette(routes=create_auth_routes(
    provider, AnyHttpUrl(ISSUER),
    client_registration_options=ClientRegistrationOptions(
        enabled=True, valid_scopes=["user"], default_scopes=["user"]),
    revocation_options=RevocationOptions(enabled=True),
) + [Route("/login", login), Route("/control/stats", stats)])

mcp = FastMCP(
    "accounts", host="127.0.0.1", port=MCP_PORT, token_verifier=Verifier(),
    auth=AuthSettings(issuer_url=AnyHttpUrl(ISSUER), resource_server_url=AnyHttpUrl(RESOURCE),
                      required_scopes=["user"]))


@mcp.tool()
def account() -> str:
    """Names the user whose account the call came with."""
    return get_access_token().subject


async def main():
    servers = []
    for app, sock in ((authorization_server, AS_SOCK), (mcp.streamable_http_app(), MCP_SOCK)):
        server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
        servers.append(server.serve(sockets=[sock]))
    announce(MCP_SOCK, AS_SOCK)
    await asyncio.gather(*servers)


asyncio.run(main())
