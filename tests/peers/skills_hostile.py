"""A hostile skills server (SEP-2640) on stdio, a plain JSON-RPC loop (no SDK: an SDK
would not let it misbehave), for tests/it/data_plane/skills.rs.

usage: skills_hostile.py MODE
  loop    skills/list never ends: every page names the same next cursor
  many    skills/list gives 100,000 skills, 1,000 a page
  mixed   four skills: `fine`; `foreign`, whose manifest names a file of another
          skill; `huge`, listing a 100 MB file; `tampered`, whose SKILL.md digest does
          not match the bytes it serves
  paths   two skills, `pdf` (SKILL.md and refs/FORMS.md) and `secret`; a read resolves
          its URI as a careless file server would (percent-decoded until nothing
          changes, backslashes as separators, `..` resolved), so a URI that steps out
          of `pdf` is served `secret`'s bytes
Every resources/read it is asked is counted; the tool `reads` says how many.
"""
import hashlib
import json
import posixpath
import sys
import urllib.parse

MODE = sys.argv[1]
reads = []


def md(name):
    return f"---\nname: {name}\ndescription: The {name} skill\n---\n\nBody of {name}.\n"


def digest(text):
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def entry(name, extra=(), claimed=None):
    uri = f"skill://{name}/SKILL.md"
    body = md(name)
    files = [{"uri": uri, "digest": claimed or digest(body), "size": len(body.encode())}]
    return {"uri": uri, "frontmatter": {"name": name, "description": f"The {name} skill"},
            "resources": files + list(extra)}


def skills_list(params):
    cursor = (params or {}).get("cursor")
    if MODE == "loop":
        n = 0 if cursor is None else 1
        return {"skills": [entry(f"loop-{n}")], "nextCursor": "again"}
    if MODE == "many":
        page = int(cursor or 0)
        out = {"skills": [entry(f"s-{page * 1000 + i}") for i in range(1000)]}
        if page < 99:
            out["nextCursor"] = str(page + 1)
        return out
    if MODE == "paths":
        forms = "Fill every field."
        return {"skills": [
            entry("pdf", [{"uri": "skill://pdf/refs/FORMS.md", "digest": digest(forms),
                           "size": len(forms)}]),
            entry("secret"),
        ]}
    return {"skills": [
        entry("fine"),
        entry("foreign", [{"uri": "skill://fine/SKILL.md", "digest": digest("x"), "size": 1}]),
        entry("huge", [{"uri": "skill://huge/data.bin", "digest": digest("y"),
                        "size": 100 * 1024 * 1024}]),
        entry("tampered", claimed="sha256:" + "0" * 64),
    ]}


def answer(method, params):
    if method == "initialize":
        return {"protocolVersion": params.get("protocolVersion", "2025-11-25"),
                "capabilities": {"resources": {}, "tools": {},
                                 "extensions": {"io.modelcontextprotocol/skills": {}}},
                "serverInfo": {"name": f"hostile-{MODE}", "version": "1"}}
    if method == "ping":
        return {}
    if method == "tools/list":
        return {"tools": [{"name": "reads", "inputSchema": {"type": "object"}}]}
    if method == "tools/call":
        return {"content": [{"type": "text", "text": json.dumps(reads)}]}
    if method == "resources/list":
        return {"resources": []}
    if method == "resources/templates/list":
        return {"resourceTemplates": []}
    if method == "skills/list":
        return skills_list(params)
    if method == "resources/read":
        uri = params["uri"]
        reads.append(uri)
        if MODE == "paths":
            path = uri.removeprefix("skill://")
            while (decoded := urllib.parse.unquote(path)) != path:
                path = decoded
            path = posixpath.normpath(path.replace("\\", "/")).lstrip("/")
            text = "Fill every field." if path == "pdf/refs/FORMS.md" else md(path.split("/")[0])
            return {"contents": [{"uri": uri, "mimeType": "text/markdown", "text": text}]}
        name = uri.split("/")[2]
        return {"contents": [{"uri": uri, "mimeType": "text/markdown", "text": md(name)}]}
    return None


for line in sys.stdin:
    try:
        msg = json.loads(line)
    except ValueError:
        continue
    if "id" not in msg or "method" not in msg:
        continue
    result = answer(msg["method"], msg.get("params") or {})
    if result is None:
        out = {"jsonrpc": "2.0", "id": msg["id"],
               "error": {"code": -32601, "message": f"method not found: {msg['method']}"}}
    else:
        out = {"jsonrpc": "2.0", "id": msg["id"], "result": result}
    sys.stdout.write(json.dumps(out) + "\n")
    sys.stdout.flush()
