"""An MCP client session over Streamable HTTP, driven synchronously: the official Python
SDK (PyPI `mcp` 1.x, `streamablehttp_client` + `ClientSession`) runs on an event loop in
a thread of its own, and each call waits for its answer. The transcripts are plain
functions that make one call per model turn, so a synchronous face keeps them readable.
"""
import asyncio
import contextlib
import threading
import time

from mcp import ClientSession
from mcp.client.streamable_http import streamablehttp_client


class Result:
    """What a tool call gave back: `text` is what a host pastes into the conversation
    (the text of its text blocks and of embedded text resources, joined by newlines),
    `structured` its structuredContent (or None), `is_error` its isError, `ms` the round
    trip through the gateway."""

    def __init__(self, text, structured, is_error, ms):
        self.text = text
        self.structured = structured
        self.is_error = is_error
        self.ms = ms

    def __repr__(self):
        return f"Result(is_error={self.is_error}, text={self.text[:80]!r})"


def result_text(res):
    parts = []
    for block in res.content:
        kind = getattr(block, "type", None)
        if kind == "text":
            parts.append(block.text)
        elif kind == "resource" and getattr(block.resource, "text", None) is not None:
            parts.append(block.resource.text)
    return "\n".join(parts)


class Session:
    """One MCP session at `url` with `key`; `call` and `list_tools` block."""

    def __init__(self, url, key, timeout_s=300):
        self.url = url
        self.key = key
        self.timeout_s = timeout_s
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.stack = None
        self.session = None
        self.run(self._open())

    def run(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(self.timeout_s)

    async def _open(self):
        self.stack = contextlib.AsyncExitStack()
        read, write, _ = await self.stack.enter_async_context(
            streamablehttp_client(self.url, headers={"Authorization": f"Bearer {self.key}"})
        )
        self.session = await self.stack.enter_async_context(ClientSession(read, write))
        await self.session.initialize()

    def list_tools(self):
        async def go():
            tools, cursor = [], None
            while True:
                page = await self.session.list_tools(cursor=cursor)
                tools += page.tools
                cursor = page.nextCursor
                if not cursor:
                    return tools

        return self.run(go())

    def call(self, name, args):
        async def go():
            t0 = time.perf_counter()
            res = await self.session.call_tool(name, args)
            ms = (time.perf_counter() - t0) * 1000
            return Result(result_text(res), res.structuredContent, bool(res.isError), ms)

        return self.run(go())

    def close(self):
        async def go():
            await self.stack.aclose()

        try:
            self.run(go())
        except Exception:  # noqa: BLE001 - closing a session the gateway already ended
            pass
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
