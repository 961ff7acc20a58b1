"""The official Python SDK (1.x or 2.x: whichever the interpreter has) reaching skill
files through plain `resources/read`, as a client that knows nothing of the Skills
extension would: it reads each URI given and prints one JSON line, URI → text (or the
error's message).

usage: sdk_skills.py URL API_KEY URI...
"""
import asyncio
import json
import sys

import mcp


async def read_all(session, uris):
    out = {}
    for uri in uris:
        try:
            r = await session.read_resource(uri)
            out[uri] = r.contents[0].text
        except Exception as e:  # the gateway's error, as the SDK raises it
            out[uri] = f"error: {e}"
    return out


async def main(url, key, uris):
    headers = {"Authorization": f"Bearer {key}"}
    if hasattr(mcp, "Client"):  # 2.x: the stateless era first
        import httpx2
        from mcp.client.streamable_http import streamable_http_client

        http = httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30.0))
        async with mcp.Client(streamable_http_client(url, http_client=http)) as client:
            out = await read_all(client, uris)
            out["protocol"] = client.protocol_version
    else:
        from mcp import ClientSession
        from mcp.client.streamable_http import streamablehttp_client

        async with streamablehttp_client(url, headers=headers) as (read, write, _):
            async with ClientSession(read, write) as session:
                init = await session.initialize()
                out = await read_all(session, uris)
                out["protocol"] = init.protocolVersion
    print(json.dumps(out))


asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3:]))
