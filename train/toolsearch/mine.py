#!/usr/bin/env python3
"""Adds mined hard negatives to data.py's pairs: for each need, the tools of the pairs
that a trained model ranks highest for it, without its own tools and without the ones
that score near its tool (a near score is likelier another tool that serves the need
than a wrong one: the "95 % of the positive's score" filter of NV-Retriever, Moreira et
al. 2024). The pool is the pairs' own tools, so nothing held out comes in.

usage: train/toolsearch/mine.py MODEL_DIR TRAIN_JSONL OUT_JSONL [--k K] [--ratio R]

Each pair keeps its own negatives (its call's or server's) and gains up to K mined ones
after them; train.py draws its hard negatives from the lot. The output is deterministic
for a model, a pairs file and the thread count (THREADS, 2 by default).
"""
import argparse
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402


def vectors(tok, model, texts, max_len):
    with torch.no_grad():
        return common.embed(tok, model, texts, max_len, batch=64)


def main():
    a = argparse.ArgumentParser()
    a.add_argument("model")
    a.add_argument("train")
    a.add_argument("out")
    a.add_argument("--k", type=int, default=3, help="mined negatives a pair gains at most")
    a.add_argument("--ratio", type=float, default=0.95,
                   help="a tool scoring above this share of the pair's own tool's score is skipped")
    a.add_argument("--tool-tokens", type=int, default=common.TOOL_TOKENS)
    a.add_argument("--query-tokens", type=int, default=64)
    args = a.parse_args()
    if args.k < 1 or not 0 < args.ratio <= 1:
        raise SystemExit("--k must be at least 1 and --ratio in (0, 1]: e.g. --k 3 --ratio 0.95")
    for f in ("model.safetensors", "vocab.txt"):
        if not os.path.isfile(os.path.join(args.model, f)):
            raise SystemExit(f"{args.model}: no {f}; give a model folder train.py wrote "
                             "(target/train/model-repeat holds the shipped run's)")
    try:
        pairs = [json.loads(l) for l in open(args.train)]
    except (OSError, ValueError) as e:
        raise SystemExit(f"{args.train}: not data.py's pairs ({e}); give its train.jsonl")
    if not pairs or any(not isinstance(p, dict) or not {"q", "pos", "negs"} <= p.keys() for p in pairs):
        raise SystemExit(f"{args.train}: a line without q, pos and negs; give data.py's train.jsonl")
    torch.set_num_threads(int(os.environ.get("THREADS", "2")))
    tools = sorted({p["pos"] for p in pairs} | {n for p in pairs for n in p["negs"]})
    needs = sorted({p["q"] for p in pairs})
    index = {t: i for i, t in enumerate(tools)}
    own = {}
    for p in pairs:
        own.setdefault(p["q"], set()).add(index[p["pos"]])
    tok, model = common.load(args.model)
    model.eval()
    t = vectors(tok, model, tools, args.tool_tokens)
    q = vectors(tok, model, needs, args.query_tokens)
    row = {n: i for i, n in enumerate(needs)}
    scores = q @ t.T
    mined = 0
    with open(args.out, "w") as f:
        for p in pairs:
            s = scores[row[p["q"]]]
            bound = args.ratio * float(s[index[p["pos"]]])
            negs = list(p["negs"])
            extra = 0
            for j in torch.argsort(s, descending=True, stable=True).tolist():
                if extra == args.k or float(s[j]) <= 0:
                    break
                if j in own[p["q"]] or float(s[j]) > bound or tools[j] in negs:
                    continue
                negs.append(tools[j])
                extra += 1
            mined += extra
            f.write(json.dumps({**p, "negs": negs}) + "\n")
    print(f"{len(pairs)} pairs, {len(tools)} tools, {mined} mined negatives -> {args.out}", flush=True)


if __name__ == "__main__":
    main()
