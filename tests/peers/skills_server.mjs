// A skills server (SEP-2640) on the official TypeScript SDK 2.x's own skills support
// (`@modelcontextprotocol/server` 2.4, `ext/skills`: `SkillsExtension.load` over
// `memorySkillFiles`), for tests/it/data_plane/skills.rs and tests/conformance/run.sh.
//
// usage: node skills_server.mjs ERA [PREFIX]
//   ERA     modern: `createMcpHandler` with `legacy: 'reject'` (2026-07-28 only);
//           session: a stateful Streamable HTTP server (2025-11-25 sessions only);
//   PREFIX  the catalog's organisational prefix (`skill://PREFIX/<skill>/…`), if any.
// Binds 127.0.0.1 port 0 and prints the port it got on stdout's first line; serves MCP
// on /mcp. It serves three skills, the first (`pdf-processing`) with files in
// subfolders (so its folder has folders), and one tool (`whoami`).
import http from "node:http";
import { randomUUID } from "node:crypto";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const root = process.env.TSSERVER_MODULES;
const load = (name) => import(require.resolve(name, { paths: [root] }));
const { McpServer, createMcpHandler, WebStandardStreamableHTTPServerTransport } = await load(
  "@modelcontextprotocol/server",
);
const { SkillsExtension, memorySkillFiles } = await load("@modelcontextprotocol/server/ext/skills");

const [era = "modern", prefix] = process.argv.slice(2);

const skillMd = (name, description, body) =>
  `---\nname: ${name}\ndescription: ${description}\n---\n\n${body}\n`;
const files = {
  "pdf-processing/SKILL.md": skillMd(
    "pdf-processing",
    "Extract, fill, and assemble PDF documents",
    "# PDF processing\n\nRead references/FORMS.md before filling a form.",
  ),
  "pdf-processing/references/FORMS.md": "# Forms\n\nFill every field; sign last.\n",
  "pdf-processing/scripts/fill.py": "print('filled')\n",
  "release-notes/SKILL.md": skillMd(
    "release-notes",
    "Write release notes from merged changes",
    "# Release notes\n\nGroup by area; newest first.",
  ),
  "style-guide/SKILL.md": skillMd(
    "style-guide",
    "Apply the house style to prose and code",
    "# Style guide\n\nShort sentences; one idea each.",
  ),
};
const skills = await SkillsExtension.load(memorySkillFiles(files), prefix ? { prefix } : {});

const build = () => {
  const mcp = new McpServer({ name: "skills-server", version: "1.0.0" });
  mcp.registerTool("whoami", { description: "Says which skills server this is" }, async () => ({
    content: [{ type: "text", text: `skills server ${prefix ?? "(no prefix)"}` }],
  }));
  skills.attach(mcp);
  return mcp;
};

let serve;
if (era === "modern") {
  const handler = createMcpHandler(build, { legacy: "reject" });
  serve = (request) => handler.fetch(request);
} else if (era === "session") {
  const sessions = new Map();
  serve = async (request) => {
    const id = request.headers.get("mcp-session-id");
    let transport = id ? sessions.get(id) : undefined;
    if (!transport) {
      if (id) return new Response("unknown session", { status: 404 });
      transport = new WebStandardStreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: (sid) => sessions.set(sid, transport),
      });
      await build().connect(transport);
    }
    return transport.handleRequest(request);
  };
} else {
  console.error(`unknown era ${era} (modern or session)`);
  process.exit(64);
}

// node:http in front of the web-standard handler.
const server = http.createServer(async (req, res) => {
  try {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const body = Buffer.concat(chunks);
    const headers = new Headers();
    for (const [k, v] of Object.entries(req.headers)) {
      if (Array.isArray(v)) v.forEach((x) => headers.append(k, x));
      else if (v !== undefined) headers.set(k, v);
    }
    const request = new Request(`http://${req.headers.host}${req.url}`, {
      method: req.method,
      headers,
      body: ["GET", "HEAD", "DELETE"].includes(req.method) ? undefined : body,
    });
    const response = await serve(request);
    res.writeHead(response.status, Object.fromEntries(response.headers));
    // A stream's head goes at once (a GET stream may stay silent for long).
    res.flushHeaders();
    if (response.body) {
      for await (const chunk of response.body) res.write(chunk);
    }
    res.end();
  } catch (e) {
    console.error(e);
    if (!res.headersSent) res.writeHead(500);
    res.end();
  }
});
server.listen(0, "127.0.0.1", () => process.stdout.write(`${server.address().port}\n`));
