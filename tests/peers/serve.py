"""Sockets for the test servers: bound here, on 127.0.0.1 port 0 unless a port is given,
their ports printed on stdout's first line (space-separated) before anything is served.
The test reads that line, so no two processes ever race for a port."""
import socket


def bind(port=0):
    """A listening socket on 127.0.0.1:`port` (0: the kernel picks one)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(128)
    return sock


def announce(*socks):
    """Prints the sockets' ports on one line, flushed."""
    print(*(s.getsockname()[1] for s in socks), flush=True)


def serve(app, sock):
    """Serves the ASGI `app` with uvicorn on `sock` until the process is ended."""
    import uvicorn

    uvicorn.Server(uvicorn.Config(app, log_level="warning")).run(sockets=[sock])
