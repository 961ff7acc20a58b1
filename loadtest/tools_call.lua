-- wrk script: MCP tools/call requests with a unique id each, on one session.
-- Environment: MCP_SESSION (Mcp-Session-Id), MCP_AUTH (Authorization header, optional),
-- MCP_TOOL (tool name), MCP_ARGS (JSON arguments).
local session = os.getenv("MCP_SESSION")
local auth = os.getenv("MCP_AUTH")
local tool = os.getenv("MCP_TOOL") or "echo"
local args = os.getenv("MCP_ARGS") or '{"message":"hello from wrk"}'

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json, text/event-stream"
wrk.headers["Mcp-Session-Id"] = session
wrk.headers["MCP-Protocol-Version"] = "2025-06-18"
if auth and auth ~= "" then
  wrk.headers["Authorization"] = auth
end

local counter = 0
local errors = 0

request = function()
  counter = counter + 1
  local body = '{"jsonrpc":"2.0","id":' .. counter ..
    ',"method":"tools/call","params":{"name":"' .. tool .. '","arguments":' .. args .. '}}'
  return wrk.format(nil, nil, nil, body)
end

response = function(status, headers, body)
  if status ~= 200 or not string.find(body, '"result"', 1, true) then
    errors = errors + 1
  end
end

done = function(summary, latency, requests)
  io.write(string.format("RESULT rps=%.1f p50_ms=%.3f p99_ms=%.3f requests=%d errors=%d\n",
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.requests, errors + summary.errors.status + summary.errors.connect +
      summary.errors.read + summary.errors.write + summary.errors.timeout))
end
