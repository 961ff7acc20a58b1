// The official TypeScript client 2.x's own skills support (`SkillsClient` of
// `@modelcontextprotocol/client/ext/skills`) against the gateway:
// node ts_skills.mjs <peers dir> <url> <key> <legacy|auto>. It lists every skill, gets
// each `pdf-processing` one, reads (and so verifies: size, digest, frontmatter) its
// SKILL.md and references/FORMS.md, lists its folder, and prints one JSON line.
import { createRequire } from 'node:module';
import path from 'node:path';

const [peers, url, key, mode] = process.argv.slice(2);
const require = createRequire(path.join(peers, 'tsclient', 'package.json'));
const { Client, StreamableHTTPClientTransport } = await import(
    require.resolve('@modelcontextprotocol/client')
);
const { SkillsClient } = await import(require.resolve('@modelcontextprotocol/client/ext/skills'));

const client = new Client({ name: 'ts-skills-test', version: '1.0.0' }, { versionNegotiation: { mode } });
const transport = new StreamableHTTPClientTransport(new URL(url), {
    requestInit: { headers: { Authorization: `Bearer ${key}` } },
});
const out = {};
try {
    await client.connect(transport);
    out.version = client.getNegotiatedProtocolVersion?.() ?? null;
    const skills = new SkillsClient(client);
    out.supported = skills.supported;
    out.directoryRead = skills.directoryRead;
    const listing = await skills.list();
    out.ttlMs = listing.ttlMs ?? null;
    out.uris = listing.skills.map((s) => s.uri).sort();
    out.read = {};
    for (const entry of listing.skills.filter((s) => s.frontmatter.name === 'pdf-processing')) {
        const { skill } = await skills.get(entry.uri);
        const manifest = await skills.read(skill);
        const forms = await skills.read(skill, 'references/FORMS.md');
        const folder = await skills.readDirectory(entry.uri.replace(/\/SKILL\.md$/, ''));
        out.read[entry.uri] = {
            verified: manifest.verified && forms.verified,
            name: manifest.frontmatter?.name ?? null,
            forms: forms.text ?? null,
            folder: folder.resources.map((r) => r.uri).sort(),
        };
    }
} catch (e) {
    out.error = `${e?.name}: ${e?.message}`;
}
await client.close().catch(() => {});
process.stdout.write(JSON.stringify(out) + '\n');
process.exit(0);
