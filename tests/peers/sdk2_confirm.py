"""The official Python SDK 2.x, in the mode given (auto: 2026-07-28 first; legacy: a
session), calling tools a policy wants confirmed, for tests/it/governance/confirm.rs. It declares
elicitation; its callback answers the gateway's question as ANSWER says:
  accept   accept with {"confirm": true}
  decline  decline
  late     wait LATE_S seconds (argv[6], default 0), then accept

usage: sdk2_confirm.py URL API_KEY auto|legacy ANSWER CALLS_JSON [LATE_S]
  CALLS_JSON: [[tool, arguments], ...]
Prints one JSON line: {"protocol", "asked": [the questions' messages],
"results": [{"is_error", "text"} | {"error": {"code", "message", "data"}}, ...]}.
"""
import asyncio
import json
import sys

import httpx2
from mcp import Client, types
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

URL, KEY, MODE, ANSWER = sys.argv[1:5]
CALLS = json.loads(sys.argv[5])
LATE = float(sys.argv[6]) if len(sys.argv) > 6 else 0.0
asked = []


async def elicitation(context, params):
    asked.append(params.message)
    if ANSWER == "decline":
        return types.ElicitResult(action="decline")
    if ANSWER == "late":
        await asyncio.sleep(LATE)
    return types.ElicitResult(action="accept", content={"confirm": True})


async def main() -> None:
    http = httpx2.AsyncClient(
        headers={"Authorization": f"Bearer {KEY}"},
        timeout=httpx2.Timeout(30.0, read=300.0),
    )
    async with Client(streamable_http_client(URL, http_client=http), mode=MODE,
                      elicitation_callback=elicitation) as client:
        results = []
        for name, args in CALLS:
            try:
                r = await client.call_tool(name, args)
                text = "".join(c.text for c in r.content if getattr(c, "text", None))
                results.append({"is_error": bool(r.is_error), "text": text})
            except MCPError as e:
                results.append({"error": {"code": e.error.code, "message": e.error.message,
                                          "data": e.error.data}})
        print(json.dumps({"protocol": client.protocol_version, "asked": asked,
                          "results": results}), flush=True)


asyncio.run(main())
