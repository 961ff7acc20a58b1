"""The official Python SDK's FastMCP as a backend behind the gateway.

usage: fastmcp_server.py [PORT]   (serves Streamable HTTP on 127.0.0.1:PORT/mcp; PORT 0 or
       none: one the kernel picks; the port is printed first, see serve.py)
"""
import sys

from serve import announce, bind, serve

from mcp.server.fastmcp import Context, FastMCP
from mcp.types import SamplingMessage, TextContent
from pydantic import BaseModel

SOCK = bind(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
mcp = FastMCP("pyserver", host="127.0.0.1", port=SOCK.getsockname()[1])


@mcp.tool()
def shout(text: str) -> str:
    """Returns the text in capitals."""
    return text.upper()


class Name(BaseModel):
    name: str


@mcp.tool()
async def greet_asked(ctx: Context) -> str:
    """Asks the user's name (elicitation), then a model for a greeting (sampling)."""
    answer = await ctx.elicit("What is your name?", schema=Name)
    if answer.action != "accept":
        return f"no name ({answer.action})"
    sampled = await ctx.session.create_message(
        messages=[SamplingMessage(role="user", content=TextContent(type="text", text=f"greet {answer.data.name}"))],
        max_tokens=20,
        related_request_id=ctx.request_id,
    )
    return f"{answer.data.name}: {sampled.content.text}"


@mcp.tool()
async def survey(ctx: Context) -> str:
    """Reads the client's roots (a request naming no call: the SDK sends it on the GET
    stream), logs at debug and warning, then asks the user to open a URL."""
    roots = await ctx.session.list_roots()
    await ctx.debug("looking at the roots")
    await ctx.warning(f"{len(roots.roots)} root(s) to survey")
    answer = await ctx.elicit_url("Sign in to survey", "https://example.com/py-login", "py-survey-1")
    return f"{','.join(str(r.uri) for r in roots.roots)} {answer.action}"


@mcp.resource("py://greeting")
def greeting() -> str:
    """A fixed greeting."""
    return "hello from FastMCP"


announce(SOCK)
serve(mcp.streamable_http_app(), SOCK)
