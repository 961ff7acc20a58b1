"""The gateway under test, as a user runs it: the release `metamcp` binary over its own
embedded PostgreSQL in a temporary data directory, an admin key made with `keyadm`, the
benchmark's real servers registered over REST (stdio children the gateway starts), and
one namespace per arm:

    full    tool_search off: tools/list gives every tool's definition
    search  tool_search on:  tools/list gives search_tools and call_tool
    code    code_mode on:    tools/list gives search_tools, call_tool and run_code

Everything listens on 127.0.0.1; the gateway and what it started are stopped on exit.
"""
import json
import os
import re
import signal
import subprocess
import time
import urllib.error
import urllib.request

ARM_NAMESPACES = {
    "full": {"tool_search": "off"},
    "search": {"tool_search": "on"},
    "code": {"tool_search": "on", "code_mode": "on"},
}


class GatewayError(Exception):
    pass


def wait_for(what, deadline_s, probe, every=0.1):
    """Polls `probe` until it returns something true (returned), or fails after the
    deadline, saying what it waited for."""
    end = time.monotonic() + deadline_s
    last = None
    while time.monotonic() < end:
        try:
            got = probe()
            if got:
                return got
        except Exception as e:  # noqa: BLE001 - the probe's failure is reported at the end
            last = e
        time.sleep(every)
    raise GatewayError(f"timed out waiting for {what}" + (f": {last!r}" if last else ""))


class Gateway:
    def __init__(self, bin_dir, work):
        self.bin_dir = bin_dir
        self.work = work
        self.data = os.path.join(work, "data")
        self.log_path = os.path.join(work, "gateway.log")
        self.proc = None
        self.addr = None
        self.key = None
        self.servers = {}

    # -- process -------------------------------------------------------------------------

    def env(self):
        env = dict(os.environ)
        env.update(
            METAMCP_DATA_DIR=self.data,
            METAMCP_LISTEN="127.0.0.1:0",
            RUST_LOG="warn,metamcp::app=info",
        )
        return env

    def start(self):
        os.makedirs(self.data, exist_ok=True)
        log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [os.path.join(self.bin_dir, "metamcp")],
            env=self.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

        def bound():
            if self.proc.poll() is not None:
                raise GatewayError(f"the gateway exited: {self.read_log()[-2000:]}")
            m = re.search(r"local=(127\.0\.0\.1:\d+)", self.read_log())
            return m and m.group(1)

        self.addr = wait_for("the gateway to listen", 120, bound)
        wait_for("/ready", 60, lambda: self.http("GET", "/ready", auth=False)[0] == 200)
        out = subprocess.run(
            [os.path.join(self.bin_dir, "keyadm"), "keys", "create", "--name", "codemode-bench",
             "--scope", "admin", "--json"],
            env=self.env(), check=True, capture_output=True,
        )
        self.key = json.loads(out.stdout)["api_key"]

    def read_log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.proc = None

    # -- REST ----------------------------------------------------------------------------

    def http(self, method, path, body=None, auth=True):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(f"http://{self.addr}{path}", data=data, method=method)
        if data is not None:
            req.add_header("content-type", "application/json")
        if auth:
            req.add_header("authorization", f"Bearer {self.key}")
        try:
            with urllib.request.urlopen(req, timeout=180) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def register(self, name, command, args, env=None):
        body = {"name": name, "protocol": "stdio", "command": command, "args": args,
                "timeout_ms": 120000}
        if env:
            body["env"] = env
        status, text = self.http("POST", "/api/v1/mcp/servers", body)
        if status != 201:
            raise GatewayError(f"registering {name}: {status} {text[:500]!r}")
        self.servers[name] = body

    def wait_running(self, names, deadline_s=180):
        def state(name):
            status, text = self.http("GET", f"/api/v1/mcp/servers/{name}")
            obj = json.loads(text) if status == 200 else {}
            if obj.get("status") == "failed":
                raise GatewayError(f"{name} failed to start: {obj.get('last_error')}")
            return obj.get("status") == "running"

        for name in names:
            wait_for(f"{name} to run", deadline_s, lambda n=name: state(n), every=0.2)

    def namespace(self, name, fields, servers):
        """Creates (or updates) namespace `name` over `servers`. Returns None, or the
        gateway's refusal (a gateway that does not know a field refuses it)."""
        body = dict(fields, servers=servers)
        status, text = self.http("GET", f"/api/v1/namespaces/{name}")
        if status == 200:
            status, text = self.http("PUT", f"/api/v1/namespaces/{name}", body)
        else:
            status, text = self.http("POST", "/api/v1/namespaces", dict(body, name=name))
        if status not in (200, 201):
            return f"{status} {text.decode('utf-8', 'replace')[:300]}"
        return None

    def wait_embedded(self, name, deadline_s=600):
        """Waits until tool search has every tool of namespace `name` embedded: until
        then its words alone rank (the cold start), and a benchmark would measure that
        instead of the search a running gateway gives."""

        def done():
            status, text = self.http("GET", f"/api/v1/namespaces/{name}")
            got = json.loads(text).get("tool_search_embedded") if status == 200 else None
            if got is None:
                return "no embeddings (lexical search)"
            return got["tools"] > 0 and got["embedded"] == got["tools"] and got

        return wait_for(f"{name}'s tools to be embedded", deadline_s, done, every=0.5)

    def metrics_calls(self):
        """{(backend, tool): calls} from /metrics: every tools/call the gateway forwarded
        to a backend, whichever arm or gateway tool asked for it."""
        status, text = self.http("GET", "/metrics", auth=False)
        if status != 200:
            raise GatewayError(f"/metrics: {status}")
        out = {}
        for m in re.finditer(
            r'^metamcp_tool_calls_total\{backend="([^"]*)",tool="([^"]*)"\} (\d+)$',
            text.decode(), re.M,
        ):
            out[(m.group(1), m.group(2))] = int(m.group(3))
        return out
