// The official TypeScript client (npm @modelcontextprotocol/client 2.x) in the mode given
// (auto: 2026-07-28 first; legacy: a session): lists the tools and calls the ones named.
// usage: node ts_calls.mjs <peers dir> <url> <key> <legacy|auto> <CALLS_JSON>
// Prints one JSON line: {"version", "tools": [...], "results": [[isError, text], ...]}.
import { createRequire } from 'node:module';
import path from 'node:path';

const [peers, url, key, mode, callsJson] = process.argv.slice(2);
const require = createRequire(path.join(peers, 'tsclient', 'package.json'));
const { Client, StreamableHTTPClientTransport } = await import(
    require.resolve('@modelcontextprotocol/client')
);
const client = new Client(
    { name: 'ts-calls', version: '1.0.0' },
    { capabilities: {}, versionNegotiation: { mode } },
);
const transport = new StreamableHTTPClientTransport(new URL(url), {
    requestInit: { headers: { Authorization: `Bearer ${key}` } },
});
const out = {};
try {
    await client.connect(transport);
    out.version = client.getNegotiatedProtocolVersion?.() ?? null;
    out.tools = (await client.listTools()).tools.map((t) => t.name).sort();
    out.results = [];
    for (const [name, args] of JSON.parse(callsJson)) {
        try {
            const r = await client.callTool({ name, arguments: args });
            const text = (r.content ?? []).map((c) => c.text ?? '').join('');
            out.results.push([Boolean(r.isError), text]);
        } catch (e) {
            out.results.push([true, `error: ${e.code ?? ''} ${e.message}`]);
        }
    }
} catch (e) {
    out.error = String(e?.message ?? e);
} finally {
    await client.close().catch(() => {});
}
console.log(JSON.stringify(out));
