"""A TLS front for a plain TCP server on 127.0.0.1, for the tests of https:// backends.

usage: tls_front.py DIR PORT

Makes a CA and a certificate for 127.0.0.1 signed by it (the CA's certificate goes to
DIR/ca.pem), listens on 127.0.0.1 port 0 with TLS, prints its port, and relays every
connection's bytes to and from 127.0.0.1:PORT. Each line it prints after the port names
a finished handshake: the TLS version and the ALPN protocol agreed (None without).
"""

import asyncio
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from oauth_issuer import tls_context  # noqa: E402


async def pipe(reader, writer):
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()


async def main():
    folder, target = sys.argv[1], int(sys.argv[2])
    ctx = tls_context(folder)
    ctx.set_alpn_protocols(["http/1.1"])

    async def handle(client_r, client_w):
        tls = client_w.get_extra_info("ssl_object")
        print(tls.version(), tls.selected_alpn_protocol(), flush=True)
        try:
            backend_r, backend_w = await asyncio.open_connection("127.0.0.1", target)
        except OSError:
            client_w.close()
            return
        await asyncio.gather(pipe(client_r, backend_w), pipe(backend_r, client_w))

    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=ctx)
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


asyncio.run(main())
