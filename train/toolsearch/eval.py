#!/usr/bin/env python3
"""A quick held-out check of a model folder, for choosing while training (the figures
that count are bench/toolsearch/run.sh's): per set, recall@1 and @5 of the encoder
alone (cosine) and of the off-the-shelf sum (0.3 x BM25 + 0.7 x cosine, each scaled per
query).

usage: train/toolsearch/eval.py MODEL_DIR [MODEL_DIR ...]   (SETS=a,b: those sets only)
"""
import json
import math
import os
import re
import sys
from collections import Counter

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
from data import ROOT, EXT, tool_text  # noqa: E402


def tools_of(path):
    v = json.load(open(path))
    servers = v["servers"] if isinstance(v, dict) else v
    out = []
    for s in servers:
        for t in s["tools"]:
            props = (t.get("inputSchema") or {}).get("properties") or {}
            title = t.get("title") or (t.get("annotations") or {}).get("title") or ""
            plain = f"{s['name']}__{t['name']} {title} {t.get('description') or ''} " + " ".join(
                f"{k} {(p or {}).get('description', '') if isinstance(p, dict) else ''}" for k, p in props.items())
            out.append((f"{s['name']}__{t['name']}",
                        tool_text(s["name"], t["name"], t.get("description") or "", props, title), plain))
    return out


def needs_of(path, keep=None):
    out = []
    for l in open(path):
        l = l.strip()
        if not l or l.startswith("//"):
            continue
        v = json.loads(l)
        e = v.get("expect") or []
        if e and (keep is None or any(x in keep for x in e)):
            out.append((v.get("need") or v.get("q"), set(e)))
    return out


def words(t):
    return [w for w in re.findall(r"[a-z0-9]+", re.sub(r"([a-z])([A-Z])", r"\1 \2", t).lower())]


def bm25(docs, q, k1=1.2, b=0.75):
    toks = [words(d) for d in docs]
    avg = sum(map(len, toks)) / max(1, len(toks))
    df = Counter(w for t in toks for w in set(t))
    n = len(docs)
    out = []
    qs = set(words(q))
    for t in toks:
        c = Counter(t)
        s = 0.0
        for w in qs:
            if c[w]:
                idf = math.log(1 + (n - df[w] + 0.5) / (df[w] + 0.5))
                s += idf * c[w] * (k1 + 1) / (c[w] + k1 * (1 - b + b * len(t) / avg))
        out.append(s)
    return torch.tensor(out)


def scaled(x):
    return (x - x.min()) / (x.max() - x.min()).clamp(min=1e-9)


def sets():
    ours = os.path.join(ROOT, "target/toolsearch/tools.json")
    held = {l.strip() for l in open(os.path.join(ROOT, "bench/toolsearch/metatool-heldout.txt"))
            if l.strip() and not l.startswith("#")}
    return [
        ("ours", ours, os.path.join(ROOT, "bench/toolsearch/needs.jsonl"), None),
        ("situated", ours, os.path.join(ROOT, "bench/toolsearch/situated.jsonl"), None),
        ("agents", ours, os.path.join(ROOT, "bench/toolsearch/agents.jsonl"), None),
        ("livemcpbench", os.path.join(EXT, "livemcpbench/tools.json"), os.path.join(EXT, "livemcpbench/queries.jsonl"), None),
        ("metatool-heldout", os.path.join(EXT, "metatool/tools.json"), os.path.join(EXT, "metatool/queries.jsonl"), held),
    ]


@torch.no_grad()
def evaluate(model_dir, only=None):
    tok, model = common.load(model_dir)
    model.eval()
    rows = {}
    for name, tpath, npath, keep in sets():
        if only and name not in only:
            continue
        tools = tools_of(tpath)
        needs = needs_of(npath, keep)
        tv = common.embed(tok, model, [t[1] for t in tools], common.TOOL_TOKENS)
        qv = common.embed(tok, model, [n[0] for n in needs], common.QUERY_TOKENS)
        cos = qv @ tv.T
        names = [t[0] for t in tools]
        r = Counter()
        for i, (q, want) in enumerate(needs):
            s = 0.3 * scaled(bm25([t[2] for t in tools], q)) + 0.7 * scaled(cos[i])
            for label, sc in (("cos", cos[i]), ("sum", s)):
                top = [names[j] for j in torch.topk(sc, 5).indices.tolist()]
                r[label + "1"] += top[0] in want
                r[label + "5"] += any(t in want for t in top)
        n = len(needs)
        rows[name] = {k: v / n for k, v in r.items()}
        print(f"{model_dir}  {name:<17} n={n:4}  cos r@1 {rows[name]['cos1']:.3f} r@5 {rows[name]['cos5']:.3f}"
              f"   sum r@1 {rows[name]['sum1']:.3f} r@5 {rows[name]['sum5']:.3f}", flush=True)
    return rows


if __name__ == "__main__":
    torch.set_num_threads(int(os.environ.get("THREADS", "2")))
    only = [x for x in os.environ.get("SETS", "").split(",") if x]
    for d in sys.argv[1:]:
        evaluate(d, only)
