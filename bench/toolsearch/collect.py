#!/usr/bin/env python3
"""Collects the tool definitions of the benchmark's public MCP servers (servers.json):
installs each pinned package (npm into DEST/node, PyPI into DEST/venv-<name>), starts it
over stdio with the official Python SDK's client, lists its tools, and writes
DEST/tools.json: [{"name", "package", "version", "tools": [...]}]. A server that cannot
start is reported and left out (the run says how many tools it has). Only the package
registries are contacted.

usage: collect.py DEST   (a venv with PyPI `mcp` is at DEST/sdk, made here)
"""
import asyncio
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def sh(*cmd, **kw):
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, **kw)


def install(dest, servers, node_bin, npm):
    npm_pkgs = [f"{s['npm']}@{s['version']}" for s in servers if "npm" in s]
    node_dir = os.path.join(dest, "node")
    marker = os.path.join(node_dir, ".done")
    want = "\n".join(sorted(npm_pkgs))
    if not os.path.exists(marker) or open(marker).read() != want:
        os.makedirs(node_dir, exist_ok=True)
        env = dict(os.environ, PUPPETEER_SKIP_DOWNLOAD="1", PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD="1")
        sh(npm, "install", "--silent", "--no-audit", "--no-fund", "--prefix", node_dir, *npm_pkgs, env=env)
        open(marker, "w").write(want)
    for s in servers:
        if "pypi" not in s:
            continue
        venv = os.path.join(dest, "venv-" + s["name"])
        marker = os.path.join(venv, ".done")
        pin = " ".join([f"{s['pypi']}=={s['version']}"] + s.get("with", []))
        if os.path.exists(marker) and open(marker).read() == pin:
            continue
        sh(sys.executable, "-m", "venv", "--clear", venv)
        sh(os.path.join(venv, "bin", "python"), "-m", "pip", "install", "--quiet",
           "--disable-pip-version-check", *pin.split(" "))
        open(marker, "w").write(pin)


async def list_tools(command, args, env):
    from mcp import ClientSession, StdioServerParameters
    from mcp.client.stdio import stdio_client

    params = StdioServerParameters(command=command, args=args, env=env)
    async with stdio_client(params) as (r, w):
        async with ClientSession(r, w) as s:
            await s.initialize()
            tools, cursor = [], None
            while True:
                page = await s.list_tools(cursor=cursor) if cursor else await s.list_tools()
                tools += [t.model_dump(mode="json", exclude_none=True, by_alias=True) for t in page.tools]
                cursor = page.nextCursor
                if not cursor:
                    return tools


def main():
    dest = os.path.abspath(sys.argv[1])
    os.makedirs(dest, exist_ok=True)
    spec = json.load(open(os.path.join(HERE, "servers.json")))["servers"]
    node_bin = os.environ.get("NODE_BIN", "")
    npm = os.environ.get("NPM", "npm")
    install(dest, spec, node_bin, npm)
    tmp = tempfile.mkdtemp(prefix="toolsearch-")
    out = []
    for s in spec:
        if "npm" in s:
            command = os.path.join(dest, "node", "node_modules", ".bin", s["bin"])
        else:
            command = os.path.join(dest, "venv-" + s["name"], "bin", s["bin"])
        args = [a.replace("{tmp}", tmp) for a in s["args"]]
        env = dict(os.environ, **s.get("env", {}))
        if node_bin:
            env["PATH"] = node_bin + os.pathsep + env.get("PATH", "")
        try:
            tools = asyncio.run(asyncio.wait_for(list_tools(command, args, env), 90))
        except BaseException as e:  # noqa: BLE001 - report and go on
            print(f"{s['name']}: could not list its tools: {e!r}", file=sys.stderr)
            continue
        package = s.get("npm") or s.get("pypi")
        print(f"{s['name']}: {package} {s['version']}: {len(tools)} tools", file=sys.stderr)
        out.append({"name": s["name"], "package": package, "version": s["version"], "tools": tools})
    with open(os.path.join(dest, "tools.json"), "w") as f:
        json.dump(out, f, indent=1, sort_keys=True)
    print(f"{sum(len(s['tools']) for s in out)} tools of {len(out)} servers in {dest}/tools.json",
          file=sys.stderr)


if __name__ == "__main__":
    main()
