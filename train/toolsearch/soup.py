#!/usr/bin/env python3
"""A soup of trained models: each tensor the weighted mean of theirs (uniform unless
weights are given), written as train.py writes a model (the first model's dtypes: half
float matrices, the rest f32) beside the first one's vocab.txt.

usage: train/toolsearch/soup.py OUT_DIR MODEL_DIR[:WEIGHT] MODEL_DIR[:WEIGHT]...

The models must be fine-tunes of one base (the same tensor names and shapes); a soup of
different bases means nothing and is refused.
"""
import math
import os
import shutil
import sys

from safetensors.torch import load_file, save_file


def parse(arg):
    path, _, weight = arg.partition(":")
    try:
        w = float(weight) if weight else 1.0
    except ValueError:
        w = math.nan
    if not math.isfinite(w) or w < 0:
        sys.exit(f"{arg}: the weight after ':' must be a number of at least 0, as in {path}:0.5")
    return path, w


def load(model_dir):
    path = os.path.join(model_dir, "model.safetensors")
    if not os.path.isfile(path):
        sys.exit(f"{path}: no such file: give folders that train.py or soup.py wrote")
    try:
        return load_file(path)
    except Exception as e:  # safetensors' own error is no standard exception
        sys.exit(f"{path}: not a safetensors file ({e}): give folders that train.py or soup.py wrote")


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    out_dir, models = sys.argv[1], [parse(a) for a in sys.argv[2:]]
    total = sum(w for _, w in models)
    if total <= 0:
        sys.exit("the weights are all 0: give at least one model a weight above 0")
    vocab = os.path.join(models[0][0], "vocab.txt")
    if not os.path.isfile(vocab):
        sys.exit(f"{vocab}: no such file: the first model's folder gives the soup its vocabulary")
    loaded = [(load(d), w / total) for d, w in models]
    first = loaded[0][0]
    for (d, _), (m, _) in zip(models, loaded):
        if m.keys() != first.keys() or any(m[k].shape != first[k].shape for k in first):
            sys.exit(f"{d}: not a fine-tune of the first model's base (tensors differ)")
    out = {}
    for k, t in first.items():
        # From the first term, not 0: 0 + -0.0 would be 0.0, another file for one soup.
        mean = t.float() * loaded[0][1]
        for m, w in loaded[1:]:
            mean = mean + m[k].float() * w
        out[k] = mean.to(t.dtype).contiguous()
    os.makedirs(out_dir, exist_ok=True)
    save_file(out, os.path.join(out_dir, "model.safetensors"))
    shutil.copyfile(vocab, os.path.join(out_dir, "vocab.txt"))


if __name__ == "__main__":
    main()
