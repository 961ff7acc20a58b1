"""PyPI `mcp-server-time` (the published server's own tools, built by its own
`create_server`) over the official Python SDK 2.x's Streamable HTTP transport, on
127.0.0.1 port 0: the port is printed first (serve.py). Dual-era, as over stdio.

usage: time_http.py   (run with the `time/` virtualenv's python)
"""
from mcp_server_time.server import create_server

from serve import announce, bind, serve

server = create_server("UTC")
sock = bind()
announce(sock)
serve(server.streamable_http_app(), sock)
