#!/usr/bin/env python3
"""Fine-tunes all-MiniLM-L6-v2 as tool search's bi-encoder: contrastive (multiple
negatives ranking: each need against its tool, the batch's other tools and the hard
negatives of its own call or server), over data.py's pairs. CPU only.

usage: train/toolsearch/train.py BASE_MODEL_DIR TRAIN_JSONL OUT_DIR [--steps N]
         [--batch B] [--lr LR] [--negs K] [--scale S] [--sources a,b] [--epochs E]
         [--save-every N] [--seed S] [--symmetric]

--epochs E sets the steps to E passes over the pairs (overrides --steps); --save-every N
writes the model so far to OUT_DIR/step-N every N steps (a run cut short still leaves
something to measure); --symmetric adds the other direction to the loss (each tool
against the batch's needs, as sentence-transformers' MultipleNegativesSymmetricRankingLoss)
and halves the sum.
"""
import argparse
import json
import os
import random
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

SEED = 85


def batches(pairs, size, rng):
    """Batches in which no tool is twice (another pair's tool is a negative)."""
    order = pairs[:]
    rng.shuffle(order)
    while order:
        seen, batch, rest = set(), [], []
        for p in order:
            if len(batch) < size and p["pos"] not in seen and p["q"] not in seen:
                batch.append(p)
                seen.add(p["pos"])
                seen.add(p["q"])
            else:
                rest.append(p)
        yield batch
        order = rest


def main():
    a = argparse.ArgumentParser()
    a.add_argument("base")
    a.add_argument("train")
    a.add_argument("out")
    a.add_argument("--steps", type=int, default=200)
    a.add_argument("--batch", type=int, default=32)
    a.add_argument("--lr", type=float, default=3e-5)
    a.add_argument("--negs", type=int, default=2)
    a.add_argument("--scale", type=float, default=20.0)
    a.add_argument("--sources", default="")
    a.add_argument("--epochs", type=float, default=0)
    a.add_argument("--save-every", type=int, default=0)
    a.add_argument("--freeze", type=int, default=0,
                   help="layers below this one (and the embeddings, when > 0) stay as they are")
    a.add_argument("--tool-tokens", type=int, default=common.TOOL_TOKENS)
    a.add_argument("--query-tokens", type=int, default=64)
    a.add_argument("--seed", type=int, default=SEED,
                   help="the batches' order and the hard negatives drawn (another seed, another draw)")
    a.add_argument("--symmetric", action="store_true",
                   help="each tool against the batch's needs too, the two losses averaged")
    args = a.parse_args()
    torch.manual_seed(args.seed)
    torch.set_num_threads(int(os.environ.get("THREADS", "2")))
    rng = random.Random(args.seed)
    pairs = [json.loads(l) for l in open(args.train)]
    if args.sources:
        keep = tuple(args.sources.split(","))
        pairs = [p for p in pairs if p["from"].startswith(keep)]
    if args.epochs > 0:
        args.steps = max(1, round(args.epochs * len(pairs) / args.batch))
    tok, model = common.load(args.base)
    model.train()
    if args.freeze > 0:
        for p in model.embeddings.parameters():
            p.requires_grad = False
        for layer in model.encoder.layer[: args.freeze]:
            for p in layer.parameters():
                p.requires_grad = False
    trained = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(trained, lr=args.lr, weight_decay=0.01)
    warm = max(1, args.steps // 10)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warm) * max(0.0, (args.steps - s) / max(1, args.steps - warm)))
    step, started = 0, time.time()
    print(f"{len(pairs)} pairs, {args.steps} steps of {args.batch}", flush=True)
    while step < args.steps:
        for batch in batches(pairs, args.batch, rng):
            if step >= args.steps:
                break
            if len(batch) < 4:
                continue
            docs = [p["pos"] for p in batch]
            taken = set(docs)
            for p in batch:
                negs = [n for n in p["negs"] if n not in taken]
                for n in rng.sample(negs, min(args.negs, len(negs))):
                    docs.append(n)
                    taken.add(n)
            q = common.embed(tok, model, [p["q"] for p in batch], args.query_tokens, batch=len(batch))
            d = common.embed(tok, model, docs, args.tool_tokens, batch=len(docs))
            logits = args.scale * q @ d.T
            target = torch.arange(len(batch))
            loss = torch.nn.functional.cross_entropy(logits, target)
            if args.symmetric:
                back = torch.nn.functional.cross_entropy(logits[:, : len(batch)].T, target)
                loss = (loss + back) / 2
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(trained, 1.0)
            opt.step()
            sched.step()
            step += 1
            if step % 5 == 0:
                print(f"step {step} loss {loss.item():.3f} {time.time() - started:.0f} s", flush=True)
            if args.save_every and step % args.save_every == 0 and step < args.steps:
                common.save(model, args.base, os.path.join(args.out, f"step-{step}"))
                print(f"step {step}: saved", flush=True)
    model.eval()
    common.save(model, args.base, args.out)
    with open(os.path.join(args.out, "trained.json"), "w") as f:
        json.dump({**vars(args), "pairs": len(pairs), "seconds": round(time.time() - started)}, f, indent=1)
    print(f"trained in {time.time() - started:.0f} s -> {args.out}", flush=True)


if __name__ == "__main__":
    main()
