"""The conformance suite's client scenarios, with the gateway as the client under test:
`conformance client --command "python3 client_wrapper.py" --scenario NAME` runs this with
the scenario server's URL appended. It registers that URL as a backend of the gateway
(`METAMCP_GW`, `METAMCP_ADMIN`: its address and an admin key), waits until the gateway
has found its era and listed it, then, as a plain 2026-07-28 client of the gateway, uses
everything the gateway offers from it: every tool called (with the arguments the
scenario's context gives, answering any `input_required` round and retrying exactly as
the revision says), every resource read, every prompt got. What the scenario server
checks is what the gateway sent it. The backend is removed at the end.

Python's standard library only.
usage: client_wrapper.py SERVER_URL
"""
import base64
import json
import os
import sys
import tempfile
import time
import urllib.error
import urllib.request

GW = os.environ["METAMCP_GW"]
ADMIN = os.environ["METAMCP_ADMIN"]
SCENARIO = os.environ.get("MCP_CONFORMANCE_SCENARIO", "scenario")
CONTEXT = json.loads(os.environ.get("MCP_CONFORMANCE_CONTEXT") or "{}")
VERSION = "2026-07-28"
ANSWERS = {
    "elicitation/create": {"action": "accept", "content": {"confirmed": True}},
    "sampling/createMessage": {"role": "assistant", "model": "wrapper",
                               "content": {"type": "text", "text": "hello"}},
    "roots/list": {"roots": []},
}


def api(method, path, body=None):
    req = urllib.request.Request(f"http://{GW}{path}", method=method,
                                 data=None if body is None else json.dumps(body).encode(),
                                 headers={"authorization": f"Bearer {ADMIN}",
                                          "content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read() or b"null")


def header_value(v):
    """A header value as SEP-2243 sends it (the Base64 form when it must)."""
    plain = all(0x20 <= ord(c) <= 0x7E for c in v) and v == v.strip(" \t") and not (
        v.startswith("=?") and v.endswith("?="))
    return v if plain else "=?base64?" + base64.b64encode(v.encode()).decode() + "?="


class Client:
    def __init__(self, url):
        self.url = url
        self.next_id = 0
        self.tools = {}

    def request(self, method, params, headers=None):
        self.next_id += 1
        params = dict(params)
        params["_meta"] = {"io.modelcontextprotocol/protocolVersion": VERSION,
                           "io.modelcontextprotocol/clientCapabilities": {
                               "sampling": {}, "elicitation": {"form": {}}, "roots": {}},
                           "io.modelcontextprotocol/clientInfo": {"name": "client-wrapper", "version": "1"}}
        h = {"content-type": "application/json", "accept": "application/json, text/event-stream",
             "mcp-protocol-version": VERSION, "mcp-method": method}
        name = params.get("uri") if method == "resources/read" else params.get("name")
        if method in ("tools/call", "prompts/get", "resources/read") and name is not None:
            h["mcp-name"] = header_value(name)
        h.update(headers or {})
        body = json.dumps({"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params}).encode()
        req = urllib.request.Request(self.url, data=body, headers=h, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                raw, sse = r.read(), r.headers.get("content-type", "").startswith("text/event-stream")
        except urllib.error.HTTPError as e:
            raw, sse = e.read(), False
        messages = ([json.loads(line[5:]) for line in raw.decode().splitlines() if line.startswith("data:")
                     and line[5:].strip()] if sse else [json.loads(raw)])
        answer = next((m for m in messages if m.get("id") == self.next_id), {})
        return answer.get("result"), answer.get("error")

    def params_headers(self, tool, args):
        """`Mcp-Param-*` for the arguments the tool declares `x-mcp-header` on."""
        out = {}
        for prop, schema in ((tool.get("inputSchema") or {}).get("properties") or {}).items():
            h = schema.get("x-mcp-header") if isinstance(schema, dict) else None
            v = args.get(prop)
            if not h or v is None:
                continue
            if isinstance(v, bool):
                out[f"mcp-param-{h}"] = "true" if v else "false"
            elif isinstance(v, int):
                out[f"mcp-param-{h}"] = str(v)
            elif isinstance(v, str):
                out[f"mcp-param-{h}"] = header_value(v)
        return out

    def call(self, method, params, headers=None):
        """A request and its retries while the answer is `input_required` (10 rounds)."""
        result, error = self.request(method, params, headers)
        for _ in range(10):
            if error or not result or result.get("resultType") != "input_required":
                break
            retry = dict(params, inputResponses={
                k: ANSWERS.get(r.get("method"), {}) for k, r in (result.get("inputRequests") or {}).items()})
            if "requestState" in result:
                retry["requestState"] = result["requestState"]
            result, error = self.request(method, retry, headers)
        return result, error

    def call_consenting(self, name, method, params, headers=None):
        """A call; when the gateway says the backend's account must be connected again
        (-31051 to this 2026-07-28 client, -32051 to a session client: its token was
        refused, or lacks a scope the call needs), the admin consents again and the call
        is retried: at most twice."""
        result, error = self.call(method, params, headers)
        for _ in range(2):
            if not (error and error.get("code") in (-31051, -32051)):
                break
            consent(name)
            result, error = self.call(method, params, headers)
        return result, error

    def every_page(self, method, field):
        items, cursor = [], None
        for _ in range(100):
            result, _ = self.request(method, {"cursor": cursor} if cursor else {})
            items += (result or {}).get(field) or []
            cursor = (result or {}).get("nextCursor")
            if not cursor:
                break
        return items


def sample(schema):
    """Arguments a tool's schema requires, each a plain value of its type."""
    plain = {"number": 1, "integer": 1, "string": "value", "boolean": True, "object": {}, "array": []}
    props = schema.get("properties") or {}
    return {k: plain.get((props.get(k) or {}).get("type"), "value")
            for k in schema.get("required") or [] if k in props}


def jwt_file(text):
    """A file holding a JWT the context gives, as a workload's platform would mount one
    (the gateway reads it at each grant). Removed when the wrapper ends."""
    f = tempfile.NamedTemporaryFile("w", prefix="metamcp-jwt-", suffix=".jwt", delete=False)
    f.write(text)
    f.close()
    JWT_FILES.append(f.name)
    return f.name


JWT_FILES = []


def oauth_settings():
    """The server's `auth` for an authorization scenario: the gateway as the OAuth client
    of the scenario's server, with the client the scenario's context names, if any (for
    the client credentials scenarios, the gateway's own account with the secret or the
    private key the context gives; for workload identity, the workload's JWT in a file;
    for enterprise-managed authorization, the identity provider and the ID token the
    context gives, in a file). DPoP needs nothing: the gateway binds its tokens when the
    authorization server offers it."""
    if SCENARIO == "auth/wif-jwt-bearer":
        return {"type": "workload_identity", "client_id": CONTEXT["client_id"],
                "assertion_file": jwt_file(CONTEXT["valid_jwt"])}
    if SCENARIO == "auth/enterprise-managed-authorization":
        return {"type": "enterprise", "client_id": CONTEXT["client_id"],
                "client_secret": CONTEXT["client_secret"],
                "idp_token_endpoint": CONTEXT["idp_token_endpoint"],
                "idp_client_id": CONTEXT["idp_client_id"],
                "id_token_file": jwt_file(CONTEXT["idp_id_token"])}
    if SCENARIO.startswith("auth/client-credentials"):
        auth = {"type": "oauth_client_credentials", "client_id": CONTEXT["client_id"]}
        if CONTEXT.get("private_key_pem"):
            auth["private_key"] = CONTEXT["private_key_pem"]
            auth["signing_algorithm"] = CONTEXT.get("signing_algorithm", "ES256")
        else:
            auth["client_secret"] = CONTEXT["client_secret"]
        return auth
    auth = {"type": "oauth", "principal": "shared"}
    if CONTEXT.get("client_id"):
        auth["client_id"] = CONTEXT["client_id"]
        if CONTEXT.get("client_secret"):
            auth["client_secret"] = CONTEXT["client_secret"]
    elif SCENARIO == "auth/basic-cimd":
        # The document URL the scenario expects (a deployment's own is served under
        # METAMCP_PUBLIC_URL; the scenario does not fetch it).
        auth["client_id"] = "https://conformance-test.local/client-metadata.json"
    return auth


def consent(name):
    """What an admin does: asks the gateway for the authorization URL and opens it; the
    scenario's authorization server approves at once and sends the browser back to the
    gateway's callback (followed here, as a browser would)."""
    link = api("POST", f"/api/v1/mcp/servers/{name}/authorize")["authorization_url"]
    try:
        with urllib.request.urlopen(link, timeout=30) as r:
            r.read()
    except urllib.error.HTTPError as e:
        sys.stderr.write(f"the callback said {e.code}: {e.read()[:300]!r}\n")


def main(server_url):
    # Server and namespace names: at most 32 of letters, digits and '-'.
    name = "c-" + "".join(c if c.isalnum() else "-" for c in SCENARIO).strip("-")[:22] + f"-{os.getpid() % 100000}"
    # Several scenario servers offer tools of one name: a review hold for shadowing is
    # not what the scenarios judge (docs/guides/reviews.md).
    server = {"name": name, "protocol": "http", "url": server_url, "tool_changes": "accept"}
    if SCENARIO.startswith("auth/"):
        server["auth"] = oauth_settings()
    api("POST", "/api/v1/mcp/servers", server)
    try:
        if SCENARIO.startswith("auth/") and server["auth"]["type"] == "oauth":
            consent(name)
        api("POST", "/api/v1/namespaces", {"name": name, "servers": [name], "auth": "none",
                                            "tool_prefix": "never"})
        deadline = time.time() + 30
        consents, last = 0, time.time()
        while (shown := api("GET", f"/api/v1/mcp/servers/{name}")).get("status") != "running":
            if time.time() > deadline:
                sys.exit(f"{server_url} did not become a running backend of the gateway")
            if server.get("auth", {}).get("type") == "oauth" and consents < 2 and time.time() - last > 3 and \
                    "needs authorization" in (shown.get("last_error") or ""):
                # What an admin does on seeing the status a while after connecting it:
                # connects the account again.
                consents, last = consents + 1, time.time()
                consent(name)
            time.sleep(0.1)
        client = Client(f"http://{GW}/mcp/{name}")
        # "running" comes before the routing rebuild that adds the server's tools to the
        # namespace: listed again until they are there (a scenario without tools waits
        # out the deadline and goes on).
        deadline = time.time() + 10
        tools = {t["name"]: t for t in client.every_page("tools/list", "tools")}
        while not tools and time.time() < deadline:
            time.sleep(0.1)
            tools = {t["name"]: t for t in client.every_page("tools/list", "tools")}
        planned = CONTEXT.get("toolCalls") or []
        for call in planned:
            tool = tools.get(call["name"], {})
            args = call.get("arguments") or {}
            client.call_consenting(name, "tools/call", {"name": call["name"], "arguments": args},
                                   client.params_headers(tool, args))
        for tool_name, tool in tools.items():
            if any(c["name"] == tool_name for c in planned):
                continue
            args = sample(tool.get("inputSchema") or {})
            if "schema" in ((tool.get("inputSchema") or {}).get("properties") or {}):
                # A harness echo tool: hand back the richest schema the gateway listed.
                focal = max((t for t in tools.values() if t is not tool),
                            key=lambda t: len(json.dumps(t.get("inputSchema"))), default=tool)
                args = {"schema": focal.get("inputSchema")}
            client.call_consenting(name, "tools/call", {"name": tool_name, "arguments": args},
                                   client.params_headers(tool, args))
        for r in client.every_page("resources/list", "resources"):
            client.call("resources/read", {"uri": r["uri"]})
        for p in client.every_page("prompts/list", "prompts"):
            client.call("prompts/get", {"name": p["name"], "arguments": {}})
    finally:
        for path in (f"/api/v1/namespaces/{name}", f"/api/v1/mcp/servers/{name}"):
            try:
                api("DELETE", path)
            except Exception:  # noqa: BLE001 — best effort cleanup
                pass
        for f in JWT_FILES:
            os.unlink(f)


if __name__ == "__main__":
    main(sys.argv[-1])
