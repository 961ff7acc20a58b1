"""A 2026-07-28 MCP server written with the official Python SDK 2.x (its lowlevel
`Server`): the fixture the conformance suite's server scenarios call through the gateway
when the backend speaks the stateless revision.

Its tools, resources and prompts are the ones the suite names (`catalog.py`, shared with
the session-era fixture). Where a scenario wants the server to need the client's input,
it answers the 2026-07-28 way: an `InputRequiredResult` keyed as the scenario expects,
with a `requestState` the SDK seals (`RequestStateBoundary`), and completes when the
client retries with the answers. It serves `subscriptions/listen`; the tool
`toggle_extra_tool` adds or removes a tool and announces the change there, and
`touch_resource` announces a resource update there (for the gateway's own tests).
It offers the tasks extension (`io.modelcontextprotocol/tasks`, SEP-2663, which the SDK
does not implement: written here): `slow_compute` is a task for a request declaring it,
working for `seconds`, then completed (tasks/get, tasks/update, tasks/cancel served).

usage: modern_fixture.py PORT [modern-only]   (Streamable HTTP on 127.0.0.1:PORT/mcp; PORT
       0: one the kernel picks; the port is printed on stdout first, see
       tests/peers/serve.py. Dual-era, as the SDK 2.x serves, unless `modern-only`:
       then `initialize` is refused as over stdio)
       modern_fixture.py stdio  (stdio, serving 2026-07-28 only: `initialize` is refused
                                 with -32022, as a server without the session era does)
"""
import datetime
import json
import os
import sys
import time
import uuid

import anyio
from mcp.server.lowlevel import Server
from mcp.server.request_state import RequestStateBoundary, RequestStateSecurity
from mcp.server.subscriptions import InMemorySubscriptionBus, ListenHandler, ResourceUpdated, ToolsListChanged
from mcp.shared.exceptions import MCPError
from mcp.types import RequestParams

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "peers"))
from catalog import AUDIO, IMAGE, RESOURCES, TOOLS, obj  # noqa: E402
from serve import announce, bind, serve  # noqa: E402

CAPS = "io.modelcontextprotocol/clientCapabilities"
bus = InMemorySubscriptionBus()
extra = {"on": False}
EXTRA_TOOL = {"name": "extra_tool", "description": "Appears when toggled", "inputSchema": obj()}
DECLARED = ("declared_capabilities", "Returns the client capabilities this request declared, as JSON", obj())
TOGGLE = ("toggle_extra_tool", "Adds or removes extra_tool and announces the change", obj())
TOUCH = ("touch_resource", "Announces an update of the resource `uri` on listen streams",
         obj({"uri": {"type": "string"}}, ["uri"]))


def text(t):
    return {"type": "text", "text": t}


def complete(result, ttl_ms=None):
    """A complete result (the revision wants `resultType`, and caching hints on lists and
    reads)."""
    out = dict(result, resultType="complete")
    if ttl_ms is not None:
        out.update(ttlMs=ttl_ms, cacheScope="public")
    return out


def done(content, is_error=False):
    return complete({"content": content, "isError": is_error})


def ask(requests, state=None):
    """An InputRequiredResult: `requests` maps each key to (method, params)."""
    out = {"resultType": "input_required",
           "inputRequests": {k: {"method": m, "params": p} for k, (m, p) in requests.items()}}
    if state is not None:
        out["requestState"] = state
    return out


def name_form(message, field="name"):
    return {"message": message, "requestedSchema": obj({field: {"type": "string"}}, [field])}


def sample(prompt, max_tokens):
    return {"messages": [{"role": "user", "content": {"type": "text", "text": prompt}}], "maxTokens": max_tokens}


def answered(responses, key):
    """The client's answer under `key`, if it is a usable one (an object)."""
    if not isinstance(responses, dict):
        return None
    r = responses.get(key)
    return r if isinstance(r, dict) else None


def declared(ctx):
    meta = (ctx.params or {}).get("_meta") or {}
    caps = meta.get(CAPS)
    return caps if isinstance(caps, dict) else {}


TASKS = "io.modelcontextprotocol/tasks"
SLOW = ("slow_compute", "Waits `seconds`; a task for a request declaring the tasks extension",
        obj({"seconds": {"type": "number"}, "label": {"type": "string"}}))
tasks = {}


def iso(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).isoformat().replace("+00:00", "Z")


def task_state(task_id):
    t = tasks.get(task_id)
    if t is None:
        raise MCPError(code=-32602, message=f"unknown task {task_id}")
    status = "cancelled" if t["cancelled"] else (
        "completed" if time.time() >= t["created"] + t["seconds"] else "working")
    out = {"resultType": "complete", "taskId": task_id, "status": status, "createdAt": iso(t["created"]),
           "lastUpdatedAt": iso(time.time()), "ttlMs": 60000, "pollIntervalMs": 100}
    if status == "completed":
        out["result"] = {"content": [text(f"computed {t['label']}")], "isError": False}
    return out


class TaskParams(RequestParams):
    taskId: str
    inputResponses: dict | None = None


async def tasks_get(ctx, params):
    return task_state(params.taskId)


async def tasks_cancel(ctx, params):
    task_state(params.taskId)
    tasks[params.taskId]["cancelled"] = True
    return {"resultType": "complete"}


async def tasks_update(ctx, params):
    task_state(params.taskId)
    return {"resultType": "complete"}


async def call_tool(ctx, params):
    raw = ctx.params or {}
    name = raw.get("name")
    args = raw.get("arguments") or {}
    responses = raw.get("inputResponses")
    state = raw.get("requestState")
    if name == "slow_compute":
        seconds, label = float(args.get("seconds", 0)), args.get("label", "")
        wants_task = (((raw.get("_meta") or {}).get(CAPS) or {}).get("extensions") or {}).get(TASKS)
        if wants_task is None:
            await anyio.sleep(seconds)
            return done([text(f"computed {label}")])
        task_id = str(uuid.uuid4())
        tasks[task_id] = {"created": time.time(), "seconds": seconds, "label": label, "cancelled": False}
        created = task_state(task_id)
        created["resultType"] = "task"
        return created
    if name == "test_simple_text":
        return done([text("This is a simple text response for testing.")])
    if name == "test_image_content":
        return done([{"type": "image", "data": IMAGE, "mimeType": "image/png"}])
    if name == "test_audio_content":
        return done([{"type": "audio", "data": AUDIO, "mimeType": "audio/wav"}])
    if name == "test_embedded_resource":
        return done([{"type": "resource", "resource": {
            "uri": "test://embedded-resource", "mimeType": "text/plain",
            "text": "This is an embedded resource content."}}])
    if name == "test_multiple_content_types":
        return done([text("Multiple content types test:"),
                     {"type": "image", "data": IMAGE, "mimeType": "image/png"},
                     {"type": "resource", "resource": {
                         "uri": "test://mixed-content-resource", "mimeType": "application/json",
                         "text": json.dumps({"test": "data", "value": 123})}}])
    if name in ("test_tool_with_logging", "test_logging_tool"):
        levels = ["info"] * 3 if name == "test_tool_with_logging" else ["debug", "info", "warning", "error"]
        for i, level in enumerate(levels):
            await ctx.session.send_log_message(level=level, data=f"a {level} message ({i})", logger="fixture")
        return done([text(f"logged at {', '.join(levels)}")])
    if name == "test_tool_with_progress":
        token = ((raw.get("_meta") or {}).get("progressToken"))
        for p in [0, 50, 100]:
            await ctx.session.report_progress(p, 100, f"Completed step {p} of 100")
            await anyio.sleep(0.05)
        return done([text(str(token if token is not None else 0))])
    if name == "test_error_handling":
        return done([text("This tool intentionally returns an error for testing")], True)
    if name == "test_missing_capability":
        if "sampling" not in declared(ctx):
            raise MCPError(code=-32021, message="this tool needs sampling",
                           data={"requiredCapabilities": {"sampling": {}}})
        r = answered(responses, "sample")
        if r is None:
            return ask({"sample": ("sampling/createMessage", sample("needs sampling", 10))})
        return done([text(f"sampled: {(r.get('content') or {}).get('text', '')}")])
    if name in ("test_sampling", "test_input_required_result_sampling"):
        key = "capital_question" if name != "test_sampling" else "sample"
        prompt = args.get("prompt", "What is the capital of France?")
        r = answered(responses, key)
        if r is None:
            return ask({key: ("sampling/createMessage", sample(prompt, 100))})
        return done([text(f"LLM response: {(r.get('content') or {}).get('text', '')}")])
    if name in ("test_elicitation", "test_streaming_elicitation", "test_input_required_result_elicitation"):
        key, form = ("user_name", name_form("What is your name?")) if name.startswith("test_input") else (
            "response", {"message": args.get("message", "Please respond"),
                         "requestedSchema": obj({"response": {"type": "string"}}, ["response"])})
        r = answered(responses, key)
        if r is None or r.get("action") not in ("accept", "decline", "cancel"):
            return ask({key: ("elicitation/create", form)})
        return done([text(f"User response: action={r['action']}, content={json.dumps(r.get('content') or {})}")])
    if name == "test_input_required_result_list_roots":
        r = answered(responses, "client_roots")
        if r is None:
            return ask({"client_roots": ("roots/list", {})})
        return done([text("Roots: " + ", ".join(str(x.get("uri")) for x in r.get("roots") or []))])
    if name in ("test_input_required_result_request_state", "test_input_required_result_tampered_state"):
        r = answered(responses, "confirm")
        if r is None or state != "awaiting-confirmation":
            return ask({"confirm": ("elicitation/create", {
                "message": "Please confirm", "requestedSchema": obj({"ok": {"type": "boolean"}}, ["ok"])})},
                "awaiting-confirmation")
        return done([text(f"state-ok: confirmed={json.dumps((r.get('content') or {}).get('ok'))}")])
    if name == "test_input_required_result_multiple_inputs":
        wanted = {"user_name": ("elicitation/create", name_form("What is your name?")),
                  "greeting": ("sampling/createMessage", sample("Generate a greeting", 50)),
                  "client_roots": ("roots/list", {})}
        missing = {k: v for k, v in wanted.items() if answered(responses, k) is None}
        if missing or state != "three-questions":
            return ask(missing or wanted, "three-questions")
        return done([text(f"All inputs received: {sorted(wanted)}")])
    if name == "test_input_required_result_multi_round":
        first = answered(responses, "step1")
        second = answered(responses, "step2")
        if state and state.startswith("round2:") and second is not None:
            return done([text(f"{state[len('round2:'):]} likes {(second.get('content') or {}).get('color')}")])
        if state == "round1" and first is not None:
            who = (first.get("content") or {}).get("name", "someone")
            return ask({"step2": ("elicitation/create", name_form("Step 2: What is your favorite color?", "color"))},
                       f"round2:{who}")
        return ask({"step1": ("elicitation/create", name_form("Step 1: What is your name?"))}, "round1")
    if name == "test_input_required_result_capabilities":
        caps = declared(ctx)
        wanted = {}
        if "elicitation" in caps:
            wanted["confirm"] = ("elicitation/create", name_form("Your name?"))
        if "sampling" in caps:
            wanted["summary"] = ("sampling/createMessage", sample("Summarise", 20))
        got = [k for k in wanted if answered(responses, k) is not None]
        if wanted and len(got) < len(wanted):
            return ask({k: v for k, v in wanted.items() if k not in got})
        return done([text(f"answered: {sorted(got)}")])
    if name == "test_custom_headers":
        return done([text(f"region={args.get('region')}")])
    if name == "json_schema_2020_12_tool":
        return done([text(f"JSON Schema 2020-12 tool called with: {json.dumps(args)}")])
    if name == DECLARED[0]:
        return done([text(json.dumps(declared(ctx), sort_keys=True))])
    if name == TOGGLE[0]:
        extra["on"] = not extra["on"]
        await bus.publish(ToolsListChanged())
        return done([text(f"extra_tool {'added' if extra['on'] else 'removed'}")])
    if name == TOUCH[0]:
        await bus.publish(ResourceUpdated(uri=args.get("uri", "")))
        return done([text(f"touched {args.get('uri')}")])
    if name == "extra_tool" and extra["on"]:
        return done([text("the extra tool answers")])
    raise MCPError(code=-32602, message=f"Unknown tool: {name}")


async def list_tools(ctx, params):
    tools = [{"name": n, "description": d, "inputSchema": s} for n, d, s in TOOLS + [TOGGLE, TOUCH, SLOW, DECLARED]]
    if extra["on"]:
        tools.append(EXTRA_TOOL)
    return complete({"tools": tools}, 0)


async def list_resources(ctx, params):
    return complete({"resources": [{"uri": u, "name": u.split("//")[1], "mimeType": m}
                                   for u, (m, _, _) in RESOURCES.items()]}, 60_000)


async def list_templates(ctx, params):
    return complete({"resourceTemplates": [{"uriTemplate": "test://template/{id}/data", "name": "template",
                                            "mimeType": "application/json"}]}, 60_000)


async def read_resource(ctx, params):
    uri = str((ctx.params or {}).get("uri"))
    if uri in RESOURCES:
        mime, body, blob = RESOURCES[uri]
        content = {"uri": uri, "mimeType": mime}
        content.update({"text": body} if body is not None else {"blob": blob})
        return complete({"contents": [content]}, 60_000)
    if uri.startswith("test://template/") and uri.endswith("/data"):
        rid = uri[len("test://template/"):-len("/data")]
        return complete({"contents": [{"uri": uri, "mimeType": "application/json", "text": json.dumps(
            {"id": rid, "templateTest": True, "data": f"Data for ID: {rid}"})}]}, 60_000)
    raise MCPError(code=-32602, message="Resource not found", data={"uri": uri})


PROMPTS = [
    {"name": "test_simple_prompt", "description": "A simple prompt"},
    {"name": "test_prompt_with_arguments", "description": "A prompt with arguments",
     "arguments": [{"name": "arg1", "required": True}, {"name": "arg2", "required": True}]},
    {"name": "test_prompt_with_embedded_resource", "description": "Embeds a resource",
     "arguments": [{"name": "resourceUri", "required": True}]},
    {"name": "test_prompt_with_image", "description": "Includes an image"},
    {"name": "test_input_required_result_prompt", "description": "Needs the user's context"},
]


async def list_prompts(ctx, params):
    return complete({"prompts": PROMPTS}, 60_000)


def user(content):
    return {"role": "user", "content": content}


async def get_prompt(ctx, params):
    raw = ctx.params or {}
    name, args = raw.get("name"), raw.get("arguments") or {}
    if name == "test_simple_prompt":
        messages = [user(text("This is a simple prompt for testing."))]
    elif name == "test_prompt_with_arguments":
        messages = [user(text(f"Prompt with arguments: arg1='{args.get('arg1')}', arg2='{args.get('arg2')}'"))]
    elif name == "test_prompt_with_embedded_resource":
        messages = [user({"type": "resource", "resource": {
            "uri": args.get("resourceUri", "test://example-resource"), "mimeType": "text/plain",
            "text": "Embedded resource content for testing."}}),
            user(text("Please process the embedded resource above."))]
    elif name == "test_prompt_with_image":
        messages = [user({"type": "image", "data": IMAGE, "mimeType": "image/png"}),
                    user(text("Please analyze the image above."))]
    elif name == "test_input_required_result_prompt":
        r = answered(raw.get("inputResponses"), "user_context")
        if r is None:
            return ask({"user_context": ("elicitation/create",
                                         name_form("What context should the prompt use?", "context"))})
        messages = [user(text(f"Use this context: {(r.get('content') or {}).get('context')}"))]
    else:
        raise MCPError(code=-32602, message=f"Unknown prompt: {name}")
    return complete({"messages": messages})


async def completion(ctx, params):
    return complete({"completion": {"values": [], "total": 0, "hasMore": False}})


server = Server(
    "modern-conformance-fixture", version="1.0.0",
    on_call_tool=call_tool, on_list_tools=list_tools,
    on_list_resources=list_resources, on_list_resource_templates=list_templates,
    on_read_resource=read_resource, on_list_prompts=list_prompts, on_get_prompt=get_prompt,
    on_completion=completion, on_subscriptions_listen=ListenHandler(bus),
)
server.extensions[TASKS] = {}
server.add_request_handler("tasks/get", TaskParams, tasks_get)
server.add_request_handler("tasks/cancel", TaskParams, tasks_cancel)
server.add_request_handler("tasks/update", TaskParams, tasks_update)
server.middleware.append(RequestStateBoundary(RequestStateSecurity.ephemeral(), default_audience="modern-fixture"))


async def modern_only(ctx, call_next):
    if ctx.method == "initialize":
        requested = (ctx.params or {}).get("protocolVersion")
        raise MCPError(code=-32022, message="only 2026-07-28 is served here",
                       data={"supported": ["2026-07-28"], "requested": requested})
    return await call_next(ctx)


async def run_stdio():
    from mcp.server.stdio import stdio_server
    server.middleware.insert(0, modern_only)
    async with stdio_server() as (read, write):
        await server.run(read, write, server.create_initialization_options())


def main(port):
    app = server.streamable_http_app(streamable_http_path="/mcp")
    sock = bind(port)
    announce(sock)
    serve(app, sock)


if __name__ == "__main__":
    if sys.argv[1] == "stdio":
        anyio.run(run_stdio)
    else:
        if "modern-only" in sys.argv[2:]:
            # Over HTTP too: no session era, so session clients are bridged.
            server.middleware.insert(0, modern_only)
        main(int(sys.argv[1]))
