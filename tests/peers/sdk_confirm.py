"""The official Python SDK 1.x (session era) calling tools a policy wants confirmed, for
tests/it/governance/confirm.rs. It declares elicitation; its callback answers the gateway's
question on the call's stream as ANSWER says (accept: {"confirm": true}; decline; late:
wait LATE_S seconds, then accept). The SDK runs its callback in its receive loop, so a
callback that never returned would keep it from reading the gateway's refusal: "nobody
answers" is an answer later than the gateway waits.

usage: sdk_confirm.py URL API_KEY ANSWER CALLS_JSON [LATE_S]
Prints one JSON line: {"protocol", "asked": [the questions' messages],
"results": [{"is_error", "text"} | {"error": {"code", "message", "data"}}, ...]}.
"""
import asyncio
import json
import sys

from mcp import ClientSession, types
from mcp.client.streamable_http import streamablehttp_client
from mcp.shared.exceptions import McpError

URL, KEY, ANSWER = sys.argv[1:4]
CALLS = json.loads(sys.argv[4])
LATE = float(sys.argv[5]) if len(sys.argv) > 5 else 0.0
asked = []


async def elicitation(context, params):
    asked.append(params.message)
    if ANSWER == "decline":
        return types.ElicitResult(action="decline")
    if ANSWER == "late":
        await asyncio.sleep(LATE)
    return types.ElicitResult(action="accept", content={"confirm": True})


async def main() -> None:
    headers = {"Authorization": f"Bearer {KEY}"}
    async with streamablehttp_client(URL, headers=headers) as (read, write, _):
        async with ClientSession(read, write, elicitation_callback=elicitation) as session:
            init = await session.initialize()
            results = []
            for name, args in CALLS:
                try:
                    r = await session.call_tool(name, args)
                    text = "".join(c.text for c in r.content if getattr(c, "text", None))
                    results.append({"is_error": bool(r.isError), "text": text})
                except McpError as e:
                    results.append({"error": {"code": e.error.code, "message": e.error.message,
                                              "data": e.error.data}})
            print(json.dumps({"protocol": init.protocolVersion, "asked": asked,
                              "results": results}), flush=True)


asyncio.run(main())
