"""The official Python SDK's FastMCP as a backend behind the gateway.

usage: fastmcp_server.py PORT   (serves Streamable HTTP on 127.0.0.1:PORT/mcp)
"""
import sys

from mcp.server.fastmcp import FastMCP

mcp = FastMCP("pyserver", host="127.0.0.1", port=int(sys.argv[1]))


@mcp.tool()
def shout(text: str) -> str:
    """Returns the text in capitals."""
    return text.upper()


@mcp.resource("py://greeting")
def greeting() -> str:
    """A fixed greeting."""
    return "hello from FastMCP"


mcp.run(transport="streamable-http")
