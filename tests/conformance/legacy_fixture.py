"""A session-era (2025-11-25) MCP server written with the official Python SDK 1.x: the
fixture the conformance suite's server scenarios call through the gateway.

Its tools, resources and prompts are the ones the suite names (`test_*`,
`test://…`), and the tasks extension's (`greet`, `slow_compute`, `failing_job`,
`protocol_error_job`, `confirm_delete`, `multi_input`, `test_tool_with_task`) run as
2025-11-25 tasks (the SDK's experimental task support) when the call asks for one: the
gateway bridges them to the 2026-07-28 tasks extension. It knows nothing of 2026-07-28: where a scenario wants a server to need
the client's input (multi-round-trip requests), it asks the client the session-era way,
with a request on the call's stream, and names each question with
`_meta["io.metamcp/inputKey"]` so the gateway can key it as the scenario expects.

usage: legacy_fixture.py PORT   (Streamable HTTP on 127.0.0.1:PORT/mcp; PORT 0: one the
       kernel picks; the port is printed on stdout first, see tests/peers/serve.py)
"""
import contextlib
import json
import os
import sys

import anyio
import mcp.types as types
from mcp.server.lowlevel import Server
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.shared.exceptions import McpError
from mcp.shared.message import ServerMessageMetadata
from starlette.applications import Starlette
from starlette.routing import Mount

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "peers"))
from catalog import AUDIO, IMAGE, RESOURCES, TOOLS, obj  # noqa: E402
from serve import announce, bind, serve  # noqa: E402

KEY = "io.metamcp/inputKey"

server = Server("legacy-conformance-fixture", version="1.0.0")
server.experimental.enable_tasks()

# The tasks extension's tools: name, description, input schema, task support.
TASK_TOOLS = [
    ("greet", "Greets by name; never a task", obj({"name": {"type": "string"}}), None),
    ("slow_compute", "Waits `seconds`, then answers; a task when asked",
     obj({"seconds": {"type": "number"}, "label": {"type": "string"}}), "optional"),
    ("failing_job", "Ends in a tool error after about a second", obj(), "required"),
    ("protocol_error_job", "Crashes: the task fails", obj(), "optional"),
    ("confirm_delete", "Asks the user to confirm, then answers", obj({"filename": {"type": "string"}}), "required"),
    ("multi_input", "Asks two questions at once", obj(), "required"),
    ("test_tool_with_task", "Asks the user's name on the call, then works on as a task", obj(), "required"),
]


def text(t):
    return types.TextContent(type="text", text=t)


async def ask(method, params, result_type, key=None):
    """Asks the client (a request on the current call's stream) and waits."""
    ctx = server.request_context
    if key:
        params = dict(params, _meta={KEY: key})
    request = {
        "elicitation/create": lambda: types.ElicitRequest(method=method, params=types.ElicitRequestFormParams(**params)),
        "sampling/createMessage": lambda: types.CreateMessageRequest(method=method, params=types.CreateMessageRequestParams(**params)),
        "roots/list": lambda: types.ListRootsRequest(method=method, params=types.RequestParams(**params) if params else None),
    }[method]()
    return await ctx.session.send_request(
        types.ServerRequest(request), result_type,
        metadata=ServerMessageMetadata(related_request_id=ctx.request_id))


def name_form(message, field="name"):
    return {"message": message, "requestedSchema": obj({field: {"type": "string"}}, [field])}


def sample(prompt, max_tokens):
    return {"messages": [{"role": "user", "content": {"type": "text", "text": prompt}}], "maxTokens": max_tokens}


async def log(level, data):
    ctx = server.request_context
    await ctx.session.send_log_message(level=level, data=data, logger="fixture", related_request_id=ctx.request_id)


def confirmed(r):
    return f"action={r.action}, content={json.dumps(r.content or {}, sort_keys=True)}"


async def task_tool(name, args):
    """The tasks extension's tools: run as a task when the call asks for one."""
    ctx = server.request_context
    if name == "greet":
        return [text(f"Hello, {args.get('name', 'World')}!")]
    if name == "test_tool_with_task":
        r = await ask("elicitation/create", name_form("What is your name?"), types.ElicitResult, key="user_name")
        who = (r.content or {}).get("name", "stranger")

        async def named(task):
            return types.CallToolResult(content=[text(f"Hello, {who}! (finished as a task)")])
        return await ctx.experimental.run_task(named)

    async def work(task):
        if name == "slow_compute":
            await anyio.sleep(float(args.get("seconds", 0)))
            if task is not None:
                # The SDK completes a task by its own copy of the status, and a task
                # cancelled meanwhile would crash the session: it learns of the end here.
                stored = await ctx.experimental._task_support.store.get_task(task.task_id)
                if stored is not None and stored.status in ("cancelled", "completed", "failed"):
                    task._ctx._task = stored
            return types.CallToolResult(content=[text(f"computed {args.get('label', '')} after {args.get('seconds', 0)} s")])
        if name == "failing_job":
            await anyio.sleep(1)
            return types.CallToolResult(content=[text("the job failed")], isError=True)
        if name == "protocol_error_job":
            await anyio.sleep(0.2)
            raise RuntimeError("the job crashed")
        if name == "confirm_delete":
            r = await task.elicit(message=f"Delete {args.get('filename')}?",
                                  requestedSchema=obj({"confirm": {"type": "boolean"}}, ["confirm"]))
            return types.CallToolResult(content=[text(f"delete {args.get('filename')}: {confirmed(r)}")])
        answers = {}

        async def one(key):
            answers[key] = await task.elicit(message=f"Question {key}?",
                                             requestedSchema=obj({"name": {"type": "string"}}))
        async with anyio.create_task_group() as tg:
            tg.start_soon(one, "first")
            tg.start_soon(one, "second")
        return types.CallToolResult(content=[text("; ".join(f"{k}: {confirmed(r)}" for k, r in sorted(answers.items())))])
    if ctx.experimental.is_task:
        return await ctx.experimental.run_task(work)
    if name in ("confirm_delete", "multi_input", "failing_job"):
        raise McpError(types.ErrorData(code=-32601, message=f"{name} runs only as a task"))
    return await work(None)


async def call_tool(req):
    name = req.params.name
    args = req.params.arguments or {}
    ctx = server.request_context
    if name in [t[0] for t in TASK_TOOLS]:
        return await task_tool(name, args)
    if name == "test_simple_text":
        return [text("This is a simple text response for testing.")]
    if name == "test_image_content":
        return [types.ImageContent(type="image", data=IMAGE, mimeType="image/png")]
    if name == "test_audio_content":
        return [types.AudioContent(type="audio", data=AUDIO, mimeType="audio/wav")]
    if name == "test_embedded_resource":
        return [types.EmbeddedResource(type="resource", resource=types.TextResourceContents(
            uri="test://embedded-resource", mimeType="text/plain", text="This is an embedded resource content."))]
    if name == "test_multiple_content_types":
        return [text("Multiple content types test:"),
                types.ImageContent(type="image", data=IMAGE, mimeType="image/png"),
                types.EmbeddedResource(type="resource", resource=types.TextResourceContents(
                    uri="test://mixed-content-resource", mimeType="application/json",
                    text=json.dumps({"test": "data", "value": 123})))]
    if name == "test_tool_with_logging":
        for m in ["Tool execution started", "Tool processing data", "Tool execution completed"]:
            await log("info", m)
            await anyio.sleep(0.05)
        return [text("Tool with logging executed successfully")]
    if name == "test_logging_tool":
        for level in ["debug", "info", "warning", "error"]:
            await log(level, f"a {level} message")
        return [text("logged at debug, info, warning and error")]
    if name == "test_tool_with_progress":
        token = ctx.meta.progressToken if ctx.meta else None
        for p in [0, 50, 100]:
            if token is not None:
                await ctx.session.send_progress_notification(
                    token, p, total=100, message=f"Completed step {p} of 100", related_request_id=ctx.request_id)
            await anyio.sleep(0.05)
        return [text(str(token if token is not None else 0))]
    if name == "test_error_handling":
        return types.CallToolResult(content=[text("This tool intentionally returns an error for testing")], isError=True)
    if name == "test_sampling":
        r = await ask("sampling/createMessage", sample(args.get("prompt", ""), 100), types.CreateMessageResult)
        return [text(f"LLM response: {getattr(r.content, 'text', '')}")]
    if name in ("test_elicitation", "test_streaming_elicitation"):
        r = await ask("elicitation/create", {"message": args.get("message", "Please respond"),
                                             "requestedSchema": obj({"response": {"type": "string"}}, ["response"])},
                      types.ElicitResult, key="response")
        return [text(f"User response: action={r.action}, content={json.dumps(r.content or {})}")]
    if name == "test_elicitation_sep1034_defaults":
        r = await ask("elicitation/create", {"message": "Please review and update the form fields with defaults",
                                             "requestedSchema": obj({
                                                 "name": {"type": "string", "default": "John Doe"},
                                                 "age": {"type": "integer", "default": 30},
                                                 "score": {"type": "number", "default": 95.5},
                                                 "status": {"type": "string", "enum": ["active", "inactive", "pending"], "default": "active"},
                                                 "verified": {"type": "boolean", "default": True}})},
                      types.ElicitResult)
        return [text(f"Elicitation completed: action={r.action}, content={json.dumps(r.content or {})}")]
    if name == "test_elicitation_sep1330_enums":
        r = await ask("elicitation/create", {"message": "Please select options from the enum fields",
                                             "requestedSchema": obj({
                                                 "untitledSingle": {"type": "string", "enum": ["option1", "option2", "option3"]},
                                                 "titledSingle": {"type": "string", "oneOf": [
                                                     {"const": "value1", "title": "First Option"},
                                                     {"const": "value2", "title": "Second Option"},
                                                     {"const": "value3", "title": "Third Option"}]},
                                                 "legacyEnum": {"type": "string", "enum": ["opt1", "opt2", "opt3"],
                                                                "enumNames": ["Option One", "Option Two", "Option Three"]},
                                                 "untitledMulti": {"type": "array", "minItems": 1, "maxItems": 3,
                                                                   "items": {"type": "string", "enum": ["option1", "option2", "option3"]}},
                                                 "titledMulti": {"type": "array", "minItems": 1, "maxItems": 3, "items": {"anyOf": [
                                                     {"const": "value1", "title": "First Choice"},
                                                     {"const": "value2", "title": "Second Choice"},
                                                     {"const": "value3", "title": "Third Choice"}]}}})},
                      types.ElicitResult)
        return [text(f"Elicitation completed: action={r.action}, content={json.dumps(r.content or {})}")]
    if name == "test_missing_capability":
        r = await ask("sampling/createMessage", sample("needs sampling", 10), types.CreateMessageResult)
        return [text(f"sampled: {getattr(r.content, 'text', '')}")]
    if name in ("test_input_required_result_elicitation",):
        r = await ask("elicitation/create", name_form("What is your name?"), types.ElicitResult, key="user_name")
        return [text(f"Hello, {(r.content or {}).get('name', 'stranger')}!")]
    if name == "test_input_required_result_sampling":
        r = await ask("sampling/createMessage", sample("What is the capital of France?", 100),
                      types.CreateMessageResult, key="capital_question")
        return [text(f"The model said: {getattr(r.content, 'text', '')}")]
    if name == "test_input_required_result_list_roots":
        r = await ask("roots/list", {}, types.ListRootsResult, key="client_roots")
        return [text("Roots: " + ", ".join(str(root.uri) for root in r.roots))]
    if name in ("test_input_required_result_request_state", "test_input_required_result_tampered_state"):
        r = await ask("elicitation/create", {"message": "Please confirm",
                                             "requestedSchema": obj({"ok": {"type": "boolean"}}, ["ok"])},
                      types.ElicitResult, key="confirm")
        return [text(f"state-ok: confirmed={json.dumps((r.content or {}).get('ok'))}")]
    if name == "test_input_required_result_multiple_inputs":
        results = {}

        async def one(key, method, params, result_type):
            results[key] = await ask(method, params, result_type, key=key)

        async with anyio.create_task_group() as tg:
            tg.start_soon(one, "user_name", "elicitation/create", name_form("What is your name?"), types.ElicitResult)
            tg.start_soon(one, "greeting", "sampling/createMessage", sample("Generate a greeting", 50), types.CreateMessageResult)
            tg.start_soon(one, "client_roots", "roots/list", {}, types.ListRootsResult)
        return [text(f"All inputs received: {sorted(results)}")]
    if name == "test_input_required_result_multi_round":
        first = await ask("elicitation/create", name_form("Step 1: What is your name?"), types.ElicitResult, key="step1")
        second = await ask("elicitation/create", name_form("Step 2: What is your favorite color?", "color"),
                           types.ElicitResult, key="step2")
        return [text(f"{(first.content or {}).get('name')} likes {(second.content or {}).get('color')}")]
    if name == "test_input_required_result_capabilities":
        asked = []

        async def one(key, method, params, result_type):
            try:
                await ask(method, params, result_type, key=key)
                asked.append(method)
            except McpError:
                pass

        async with anyio.create_task_group() as tg:
            tg.start_soon(one, "confirm", "elicitation/create", name_form("Your name?"), types.ElicitResult)
            tg.start_soon(one, "summary", "sampling/createMessage", sample("Summarise", 20), types.CreateMessageResult)
        return [text(f"answered: {sorted(asked)}")]
    if name == "test_custom_headers":
        return [text(f"region={args.get('region')}")]
    if name == "json_schema_2020_12_tool":
        return [text(f"JSON Schema 2020-12 tool called with: {json.dumps(args)}")]
    raise McpError(types.ErrorData(code=-32602, message=f"Unknown tool: {name}"))


async def handle_call(req):
    try:
        out = await call_tool(req)
    except McpError:
        raise
    except Exception as e:  # a tool's failure is its result
        return types.ServerResult(types.CallToolResult(content=[text(str(e))], isError=True))
    if isinstance(out, (types.CallToolResult, types.CreateTaskResult)):
        return types.ServerResult(out)
    return types.ServerResult(types.CallToolResult(content=out, isError=False))


async def list_tools(req):
    return types.ServerResult(types.ListToolsResult(tools=[
        types.Tool(name=n, description=d, inputSchema=s) for n, d, s in TOOLS] + [
        types.Tool(name=n, description=d, inputSchema=s,
                   execution=types.ToolExecution(taskSupport=t) if t else None)
        for n, d, s, t in TASK_TOOLS]))


async def list_resources(req):
    return types.ServerResult(types.ListResourcesResult(resources=[
        types.Resource(uri=u, name=u.split("//")[1], mimeType=m) for u, (m, _, _) in RESOURCES.items()]))


async def list_templates(req):
    return types.ServerResult(types.ListResourceTemplatesResult(resourceTemplates=[
        types.ResourceTemplate(uriTemplate="test://template/{id}/data", name="template", mimeType="application/json")]))


async def read_resource(req):
    uri = str(req.params.uri)
    if uri in RESOURCES:
        mime, body, blob = RESOURCES[uri]
        content = (types.TextResourceContents(uri=uri, mimeType=mime, text=body) if body is not None
                   else types.BlobResourceContents(uri=uri, mimeType=mime, blob=blob))
        return types.ServerResult(types.ReadResourceResult(contents=[content]))
    if uri.startswith("test://template/") and uri.endswith("/data"):
        rid = uri[len("test://template/"):-len("/data")]
        return types.ServerResult(types.ReadResourceResult(contents=[types.TextResourceContents(
            uri=uri, mimeType="application/json",
            text=json.dumps({"id": rid, "templateTest": True, "data": f"Data for ID: {rid}"}))]))
    raise McpError(types.ErrorData(code=-32002, message="Resource not found", data={"uri": uri}))


PROMPTS = [
    types.Prompt(name="test_simple_prompt", description="A simple prompt"),
    types.Prompt(name="test_prompt_with_arguments", description="A prompt with arguments", arguments=[
        types.PromptArgument(name="arg1", required=True), types.PromptArgument(name="arg2", required=True)]),
    types.Prompt(name="test_prompt_with_embedded_resource", description="Embeds a resource", arguments=[
        types.PromptArgument(name="resourceUri", required=True)]),
    types.Prompt(name="test_prompt_with_image", description="Includes an image"),
    types.Prompt(name="test_input_required_result_prompt", description="Needs the user's context"),
]


async def list_prompts(req):
    return types.ServerResult(types.ListPromptsResult(prompts=PROMPTS))


def user(content):
    return types.PromptMessage(role="user", content=content)


async def get_prompt(req):
    name, args = req.params.name, req.params.arguments or {}
    if name == "test_simple_prompt":
        messages = [user(text("This is a simple prompt for testing."))]
    elif name == "test_prompt_with_arguments":
        messages = [user(text(f"Prompt with arguments: arg1='{args.get('arg1')}', arg2='{args.get('arg2')}'"))]
    elif name == "test_prompt_with_embedded_resource":
        messages = [user(types.EmbeddedResource(type="resource", resource=types.TextResourceContents(
            uri=args.get("resourceUri", "test://example-resource"), mimeType="text/plain",
            text="Embedded resource content for testing."))),
            user(text("Please process the embedded resource above."))]
    elif name == "test_prompt_with_image":
        messages = [user(types.ImageContent(type="image", data=IMAGE, mimeType="image/png")),
                    user(text("Please analyze the image above."))]
    elif name == "test_input_required_result_prompt":
        r = await ask("elicitation/create", name_form("What context should the prompt use?", "context"),
                      types.ElicitResult, key="user_context")
        messages = [user(text(f"Use this context: {(r.content or {}).get('context')}"))]
    else:
        raise McpError(types.ErrorData(code=-32602, message=f"Unknown prompt: {name}"))
    return types.ServerResult(types.GetPromptResult(messages=messages))


async def complete(req):
    return types.ServerResult(types.CompleteResult(completion=types.Completion(values=[], total=0, hasMore=False)))


async def empty(req):
    return types.ServerResult(types.EmptyResult())


server.request_handlers.update({
    types.CallToolRequest: handle_call,
    types.ListToolsRequest: list_tools,
    types.ListResourcesRequest: list_resources,
    types.ListResourceTemplatesRequest: list_templates,
    types.ReadResourceRequest: read_resource,
    types.ListPromptsRequest: list_prompts,
    types.GetPromptRequest: get_prompt,
    types.CompleteRequest: complete,
    types.SetLevelRequest: empty,
    types.SubscribeRequest: empty,
    types.UnsubscribeRequest: empty,
})


def main(port):
    manager = StreamableHTTPSessionManager(app=server)

    @contextlib.asynccontextmanager
    async def lifespan(app):
        async with manager.run():
            yield

    async def handle(scope, receive, send):
        await manager.handle_request(scope, receive, send)

    app = Starlette(routes=[Mount("/mcp", app=handle)], lifespan=lifespan)
    sock = bind(port)
    announce(sock)
    serve(app, sock)


if __name__ == "__main__":
    main(int(sys.argv[1]))
