// The official TypeScript client (npm @modelcontextprotocol/client 2.x) against the
// gateway: node ts_client.mjs <peers dir> <url> <key> <legacy|auto>. It declares
// sampling, form elicitation and roots, answers the backend's questions, lists and calls
// through the gateway (mockmcp's rich profile behind it, registered as `rich`), and
// prints one JSON line of what it saw.
import { createRequire } from 'node:module';
import path from 'node:path';

const [peers, url, key, mode] = process.argv.slice(2);
const require = createRequire(path.join(peers, 'tsclient', 'package.json'));
const { Client, StreamableHTTPClientTransport } = await import(
    require.resolve('@modelcontextprotocol/client')
);

const asked = [];
const client = new Client(
    { name: 'ts-client-test', version: '1.0.0' },
    {
        capabilities: { sampling: {}, elicitation: { form: {} }, roots: {} },
        versionNegotiation: { mode },
    },
);
client.setRequestHandler('sampling/createMessage', async (request) => {
    asked.push('sampling/createMessage');
    const last = request.params.messages.at(-1);
    return {
        model: 'ts-model',
        role: 'assistant',
        content: { type: 'text', text: `ts sampled: ${last?.content?.text ?? ''}` },
    };
});
client.setRequestHandler('roots/list', async () => {
    asked.push('roots/list');
    return { roots: [{ uri: 'file:///tmp/ts', name: 'ts' }] };
});
const transport = new StreamableHTTPClientTransport(new URL(url), {
    requestInit: { headers: { Authorization: `Bearer ${key}` } },
});
const out = {};
try {
    await client.connect(transport);
    out.version = client.getNegotiatedProtocolVersion?.() ?? null;
    out.server = client.getServerVersion()?.name ?? null;
    const tools = await client.listTools();
    out.tools = tools.tools.map((t) => t.name).sort();
    const echo = await client.callTool({ name: 'rich__echo', arguments: { message: 'hi from ts' } });
    out.echo = echo.content?.[0]?.text ?? null;
    const sampled = await client.callTool({ name: 'rich__sample', arguments: { prompt: 'ts prompt' } });
    out.sample = sampled.content?.[0]?.text ?? null;
    const prompt = await client.getPrompt({ name: 'rich__greet', arguments: { name: 'ts' } });
    out.prompt = prompt.messages?.[0]?.content?.text ?? null;
    const read = await client.readResource({ uri: 'mock://static/hello' });
    out.resource = read.contents?.[0]?.text ?? null;
    try {
        await client.callTool({ name: 'rich__no_such_tool', arguments: {} });
        out.unknown = 'no error';
    } catch (e) {
        out.unknown = String(e?.code ?? e?.message ?? e);
    }
    out.asked = asked;
} catch (e) {
    out.error = String(e?.stack ?? e);
} finally {
    await client.close().catch(() => {});
}
console.log(JSON.stringify(out));
