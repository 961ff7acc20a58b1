// The official TypeScript client (npm @modelcontextprotocol/client 2.x), in the mode given
// (auto: 2026-07-28 first; legacy: a session), calling tools a policy wants confirmed, for
// tests/it/governance/confirm.rs. It declares form elicitation; its handler answers the gateway's
// question as ANSWER says (accept: {"confirm": true}; decline).
// usage: node ts_confirm.mjs <peers dir> <url> <key> <legacy|auto> <accept|decline> <CALLS_JSON>
// Prints one JSON line: {"version", "asked": [messages], "results": [{"is_error", "text"} |
// {"error": {"code", "message", "data"}}, ...]}.
import { createRequire } from 'node:module';
import path from 'node:path';

const [peers, url, key, mode, answer, callsJson] = process.argv.slice(2);
const require = createRequire(path.join(peers, 'tsclient', 'package.json'));
const { Client, StreamableHTTPClientTransport } = await import(
    require.resolve('@modelcontextprotocol/client')
);
const asked = [];
const client = new Client(
    { name: 'ts-confirm', version: '1.0.0' },
    { capabilities: { elicitation: { form: {} } }, versionNegotiation: { mode } },
);
client.setRequestHandler('elicitation/create', async (request) => {
    asked.push(request.params.message);
    if (answer === 'decline') return { action: 'decline' };
    return { action: 'accept', content: { confirm: true } };
});
const transport = new StreamableHTTPClientTransport(new URL(url), {
    requestInit: { headers: { Authorization: `Bearer ${key}` } },
});
const out = { asked, results: [] };
try {
    await client.connect(transport);
    out.version = client.getNegotiatedProtocolVersion?.() ?? null;
    for (const [name, args] of JSON.parse(callsJson)) {
        try {
            const r = await client.callTool({ name, arguments: args });
            const text = (r.content ?? []).map((c) => c.text ?? '').join('');
            out.results.push({ is_error: Boolean(r.isError), text });
        } catch (e) {
            out.results.push({ error: { code: e.code ?? null, message: e.message, data: e.data ?? null } });
        }
    }
} catch (e) {
    out.error = String(e?.stack ?? e);
} finally {
    await client.close().catch(() => {});
}
console.log(JSON.stringify(out));
