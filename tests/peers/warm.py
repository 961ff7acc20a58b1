"""A virtualenv's Python, started warm: the test peers' interpreter (tests only).

Importing the SDKs is most of a peer's start (0.7 CPU-s of each 1.x and 2.x start, where
the interpreter alone takes 0.01), and the suite starts peers by the hundred. A server
per interpreter imports what each script imports once, and forks a fresh process for
every start after that: the script runs as `__main__` with its own argv, environment,
working directory, standard streams, process group and exit status, and the official
SDK's code is the same code. docs/guides/testing.md has the figures.

tests/peers/install.sh writes this file as `bin/python-warm` of each virtualenv, under a
first line naming the virtualenv's interpreter (run with `-IS`: only the standard
library, no environment variables read). Used as that interpreter:

    python-warm [-u] SCRIPT [ARG...]        as `python [-u] SCRIPT ARG...`
    python-warm [-u] -m MODULE [ARG...]     as `python [-u] -m MODULE ARG...`

Anything else, or `METAMCP_WARM=0` in the environment, or a server that cannot be
reached, runs the interpreter itself (exec). The process started stays this one's
shadow: a signal sent to this process is passed on, this one exits as the script did
(with its code, or by its signal), and when this one is killed the script is killed.
"""

import hashlib
import json
import os
import selectors
import signal
import socket
import struct
import sys
import time

REAL = sys.executable
# A server with nothing running and no start asked for this long exits.
IDLE_SECONDS = 90
# The longest request (argv and environment) a server reads.
MAX_REQUEST = 1 << 20
FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT,
             signal.SIGUSR1, signal.SIGUSR2)


def parse(argv):
    """(unbuffered, kind, target, rest) for the forms served warm, else None."""
    unbuffered = False
    i = 0
    while i < len(argv) and argv[i] == "-u":
        unbuffered = True
        i += 1
    if i + 1 < len(argv) and argv[i] == "-m":
        return unbuffered, "module", argv[i + 1], argv[i + 2:]
    if i < len(argv) and argv[i] != "-" and not argv[i].startswith("-"):
        return unbuffered, "path", argv[i], argv[i + 1:]
    return None


def server_name():
    """The abstract socket of this interpreter's server, for this file as it is now."""
    me = os.path.realpath(__file__)
    parts = [REAL, me, str(os.stat(me).st_mtime_ns)]
    cfg = os.path.join(os.path.dirname(os.path.dirname(REAL)), "pyvenv.cfg")
    try:
        parts.append(str(os.stat(cfg).st_mtime_ns))
    except OSError:
        pass
    digest = hashlib.sha256("\0".join(parts).encode()).hexdigest()[:32]
    return "metamcp-warm-" + digest


def exec_real(argv):
    os.execv(REAL, [REAL] + argv)


def connect(name):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect("\0" + name)  # an abstract socket: no file, gone with its server
        return sock
    except OSError:
        sock.close()
        return None


def start_server(name):
    """Starts a server in a session of its own, nobody's child, its output in a log."""
    pid = os.fork()
    if pid == 0:
        try:
            os.setsid()
            if os.fork() > 0:
                os._exit(0)
            log = os.path.join(os.path.dirname(os.path.dirname(REAL)), "warm.log")
            null = os.open(os.devnull, os.O_RDWR)
            out = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            os.dup2(null, 0)
            os.dup2(out, 1)
            os.dup2(out, 2)
            os.closerange(3, 65536)
            env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"}
            if "HOME" in os.environ:
                env["HOME"] = os.environ["HOME"]
            os.execve(REAL, [REAL, os.path.realpath(__file__), "--serve", name], env)
        finally:
            os._exit(127)
    os.waitpid(pid, 0)


def reach(name):
    sock = connect(name)
    if sock is not None:
        return sock
    start_server(name)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        sock = connect(name)
        if sock is not None:
            return sock
        time.sleep(0.01)
    return None


def read_line(sock):
    line = b""
    while not line.endswith(b"\n"):
        chunk = sock.recv(1)
        if not chunk:
            return None
        line += chunk
    return line.decode().strip()


def client(argv):
    parsed = parse(argv)
    if parsed is None or os.environ.get("METAMCP_WARM") == "0":
        exec_real(argv)
    unbuffered, kind, target, rest = parsed
    request = json.dumps({
        "kind": kind, "target": target, "rest": rest, "unbuffered": unbuffered,
        "cwd": os.getcwd(), "env": dict(os.environ),
    }).encode()
    frame = struct.pack("!I", len(request)) + request
    # A server says "took" once it has read a whole request, before it starts anything:
    # a request it never took started nothing (one ending as it idles out, say) and goes
    # to another; one it took is never sent again (the script may have read its input).
    for _attempt in range(3):
        sock = reach(server_name())
        if sock is None:
            exec_real(argv)
        try:
            sent = socket.send_fds(sock, [frame[:4096]], [0, 1, 2])
            if sent < len(frame):  # (sending nothing to a peer that closed is an EPIPE)
                sock.sendall(frame[sent:])
            took = read_line(sock)
        except OSError:
            took = None
        if took == "took":
            break
        sock.close()
    else:
        sys.stderr.write(f"python-warm: no warm server took the start of {target}\n")
        os._exit(70)
    try:
        started = read_line(sock)
    except OSError:
        started = None
    if started is None or not started.startswith("pid "):
        sys.stderr.write(f"python-warm: the warm server took the start of {target} and "
                         f"ended before it said the script's pid ({started!r}): see "
                         f"{os.path.join(os.path.dirname(os.path.dirname(REAL)), 'warm.log')}\n")
        os._exit(70)
    pid = int(started[4:])

    def forward(signum, _frame):
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass

    for s in FORWARDED:
        signal.signal(s, forward)
    # The script holds the streams now; this process keeps none of them open.
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    try:
        ended = read_line(sock)
    except OSError:
        ended = None
    if ended is None or not ended.startswith("exit "):
        os.kill(pid, signal.SIGKILL)
        os._exit(70)
    code = os.waitstatus_to_exitcode(int(ended[5:]))
    if code < 0:
        signal.signal(-code, signal.SIG_DFL)
        os.kill(os.getpid(), -code)
        os._exit(128 - code)
    os._exit(code)


# The server.

def imports_of(path):
    """The modules a script imports, anywhere in it (absolute imports only)."""
    import ast
    try:
        with open(path, "rb") as f:
            tree = ast.parse(f.read(MAX_REQUEST), path)
    except (OSError, SyntaxError, ValueError):
        return []
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
    return names


def shadowed(name, directory):
    top = name.split(".")[0]
    return (os.path.exists(os.path.join(directory, top + ".py"))
            or os.path.isdir(os.path.join(directory, top)))


class Warmer:
    """Imports, in the server, what the scripts it starts import: once each."""

    def __init__(self):
        self.seen = set()

    def warm(self, kind, target, cwd):
        import importlib
        if kind == "module":
            names, home = [target.split(".")[0]], cwd
        else:
            path = os.path.join(cwd, target)
            try:
                key = (path, os.stat(path).st_mtime_ns)
            except OSError:
                return
            if key in self.seen:
                return
            self.seen.add(key)
            names, home = imports_of(path), os.path.dirname(path)
        for name in names:
            if name in sys.modules or shadowed(name, home):
                continue
            try:
                importlib.import_module(name)
            except BaseException:  # a module that fails to import is the script's to report
                pass


def read_request(conn):
    # An abstract socket has no file permissions: any process of this network namespace
    # can connect, so only this server's own user is served.
    _pid, uid, _gid = struct.unpack("3i", conn.getsockopt(
        socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i")))
    if uid != os.getuid():
        raise ValueError(f"a request from user {uid}, not this server's")
    conn.settimeout(10)
    data, fds, _flags, _addr = socket.recv_fds(conn, 4096, 3)
    try:
        return parse_request(conn, data, fds), fds
    except BaseException:
        for fd in fds:
            os.close(fd)  # a request not served keeps none of its caller's streams
        raise


def parse_request(conn, data, fds):
    if len(fds) != 3 or len(data) < 4:
        raise ValueError("a request carries its three streams and a length")
    size = struct.unpack("!I", data[:4])[0]
    if size > MAX_REQUEST:
        raise ValueError("request too long")
    body = data[4:]
    while len(body) < size:
        chunk = conn.recv(size - len(body))
        if not chunk:
            raise ValueError("request cut short")
        body += chunk
    conn.settimeout(None)
    request = json.loads(body)
    shapes = {"kind": str, "target": str, "rest": list, "unbuffered": bool, "cwd": str,
              "env": dict}
    if not isinstance(request, dict) or any(
            not isinstance(request.get(k), t) for k, t in shapes.items()):
        raise ValueError("a request names kind, target, rest, unbuffered, cwd and env")
    return request


def stdio(unbuffered):
    """The standard streams as `python [-u]` makes them for pipes."""
    import io
    if unbuffered:
        sys.stdout = sys.__stdout__ = io.TextIOWrapper(
            io.FileIO(1, "w", closefd=False), encoding=sys.stdout.encoding,
            errors=sys.stdout.errors, write_through=True)
        sys.stderr = sys.__stderr__ = io.TextIOWrapper(
            io.FileIO(2, "w", closefd=False), encoding=sys.stderr.encoding,
            errors="backslashreplace", write_through=True)


def report(error):
    """The traceback as Python prints it: from the script's frames on, not this file's."""
    import traceback
    tb = error.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename == __file__:
        tb = tb.tb_next
    traceback.print_exception(type(error), error, tb or error.__traceback__)


def run(request, fds, closing):
    """In the forked child: become the script, and exit as it does."""
    import atexit
    import builtins
    import runpy
    import types
    import threading
    import traceback
    code = 0
    try:
        for thing in closing:
            thing.close()
        os.setpgid(0, 0)
        for fd, std in zip(fds, (0, 1, 2)):
            os.dup2(fd, std)
        for fd in fds:
            if fd > 2:
                os.close(fd)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        stdio(request["unbuffered"] or bool(request["env"].get("PYTHONUNBUFFERED")))
        target, rest = request["target"], request["rest"]
        if request["kind"] == "module":
            # What `python -m` calls.
            sys.argv = ["-m"] + rest
            sys.path.insert(0, os.getcwd())
            runpy._run_module_as_main(target, alter_argv=True)
        else:
            # What `python SCRIPT` does: a new `__main__` whose `__file__` is absolute,
            # argv as given, the script's directory first on the path.
            path = os.path.abspath(target)
            with open(path, "rb") as f:
                source = f.read()
            sys.argv = [target] + rest
            sys.path.insert(0, os.path.dirname(path))
            main = types.ModuleType("__main__")
            main.__file__ = path
            main.__cached__ = None
            main.__builtins__ = builtins
            sys.modules["__main__"] = main
            exec(compile(source, path, "exec"), main.__dict__)
    except SystemExit as e:
        if e.code is None:
            code = 0
        elif isinstance(e.code, int):
            code = e.code
        else:
            print(e.code, file=sys.stderr)
            code = 1
    except KeyboardInterrupt as e:
        report(e)
        code = -signal.SIGINT
    except BaseException as e:
        report(e)
        code = 1
    try:
        threading._shutdown()
        atexit._run_exitfuncs()
    except BaseException:
        traceback.print_exc()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:
            pass
    if code < 0:
        signal.signal(-code, signal.SIG_DFL)
        os.kill(os.getpid(), -code)
    os._exit(code & 0xFF)


def serve(name):
    # The scripts' directories go on their own path, not this file's.
    here = os.path.dirname(os.path.realpath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.realpath(p or ".") != here]
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        listener.bind("\0" + name)
    except OSError:
        return  # another server of the same name won the race
    listener.listen(256)
    sel = selectors.DefaultSelector()
    sel.register(listener, selectors.EVENT_READ, ("accept", None))
    live = {}  # pid -> (conn, pidfd)
    warmer = Warmer()
    last = time.monotonic()
    while True:
        events = sel.select(timeout=5)
        if not events:
            if not live and time.monotonic() - last > IDLE_SECONDS:
                listener.close()  # a start that raced this is sent again by its caller
                return
            continue
        for key, _mask in events:
            try:
                last = handle(key, listener, warmer, live, sel, last)
            except Exception:  # one start gone wrong must not end the others
                import traceback
                traceback.print_exc()
                sys.stderr.flush()


def handle(key, listener, warmer, live, sel, last):
    """One ready file of the server's loop; when it last saw a start or an end."""
    what, pid = key.data
    if what == "accept":
        last = time.monotonic()
        conn, _ = listener.accept()
        start(conn, warmer, live, sel, listener)
    elif what == "conn":
        if pid not in live:
            return last  # its script ended in this same round: answered and closed
        # The client sends nothing after its request: this is its end.
        try:
            gone = key.fileobj.recv(1) == b""
        except OSError:
            gone = True
        if gone:
            # Not reaped yet (its pidfd is still open), so the pid is still its.
            os.kill(pid, signal.SIGKILL)
            sel.unregister(key.fileobj)
    elif what == "pidfd":
        _, status = os.waitpid(pid, 0)
        conn, pidfd = live.pop(pid)
        sel.unregister(pidfd)
        os.close(pidfd)
        try:
            sel.unregister(conn)
        except KeyError:
            pass
        try:
            conn.sendall(f"exit {status}\n".encode())
        except OSError:
            pass
        conn.close()
        last = time.monotonic()
    return last


def start(conn, warmer, live, sel, listener):
    try:
        request, fds = read_request(conn)
    except (OSError, ValueError) as e:
        print(f"python-warm: a bad request: {e}", file=sys.stderr, flush=True)
        conn.close()
        return
    try:
        conn.sendall(b"took\n")
    except OSError:  # its caller is gone: nothing to start
        for fd in fds:
            os.close(fd)
        conn.close()
        return
    warmer.warm(request["kind"], request["target"], request["cwd"])
    sys.stdout.flush()
    sys.stderr.flush()
    closing = [listener, sel] + [c for c, _ in live.values()] + [conn]
    pidfds = [p for _, p in live.values()]
    pid = os.fork()
    if pid == 0:
        for p in pidfds:
            os.close(p)
        run(request, fds, closing)
    for fd in fds:
        os.close(fd)
    pidfd = os.pidfd_open(pid)
    live[pid] = (conn, pidfd)
    sel.register(pidfd, selectors.EVENT_READ, ("pidfd", pid))
    sel.register(conn, selectors.EVENT_READ, ("conn", pid))
    try:
        conn.sendall(f"pid {pid}\n".encode())
    except OSError:
        pass


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--serve":
        serve(sys.argv[2])
    else:
        client(sys.argv[1:])
