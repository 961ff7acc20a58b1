#!/usr/bin/env python3
"""Writes src/search/background.jsonl, tool search's background catalogue: what tools
exist in the world besides a view's own, so a need that one of them serves better than
anything in the view is told "no tool fits" (src/search/background.rs).

Taken from the two public benchmarks in ../shared/toolsearch-external/, written by nobody
on this project: MetaTool's 199 ChatGPT plugins (HowieHwong/MetaTool @35e81bb, MIT) and
LiveMCPBench's MCP tools whose descriptions are English (icip-cas/LiveMCPBench @a928e57,
Apache-2.0). Only the tools' names, the first 600 characters of their descriptions and
their parameters' names are kept. Each line says which set it came from, so a benchmark
reporting on that set leaves its lines out.

MetaTool's tools that tool search's encoder was trained on (train/toolsearch/: all but
the half in metatool-heldout.txt) are left out: the encoder brings needs nearer to them
than to tools it never saw, so beside a view's tools they would win more often than they
fit, and the search would say "nothing fits" or "low" where a view's tool serves.

usage: bench/toolsearch/background.py [EXTERNAL_DIR]
"""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
EXT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "..", "shared", "toolsearch-external")


def english(text):
    return bool(text) and sum(c.isascii() for c in text) >= 0.9 * len(text)


held = {l.strip().split("__", 1)[1] for l in open(os.path.join(HERE, "metatool-heldout.txt"))
        if l.strip() and not l.startswith("#")}
out = []
for source in ["metatool", "livemcpbench"]:
    servers = json.load(open(os.path.join(EXT, source, "tools.json")))["servers"]
    for s in servers:
        for t in s["tools"]:
            description = t.get("description") or ""
            if not english(description) or (source == "metatool" and t["name"] not in held):
                continue
            params = sorted((t.get("inputSchema") or {}).get("properties") or {})
            out.append({"from": source, "server": s["name"], "name": t["name"],
                        "description": description[:600], "params": params})
path = os.path.join(ROOT, "src", "search", "background.jsonl")
with open(path, "w") as f:
    for e in out:
        f.write(json.dumps(e, ensure_ascii=False, sort_keys=True) + "\n")
print(f"{len(out)} tools written to {os.path.relpath(path, ROOT)}")
