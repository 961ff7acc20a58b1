#!/usr/bin/env python3
"""Writes attacks.jsonl and benign.jsonl from the hand-written cases in attacks_*.py and benign_data.py."""
import collections
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import attacks_a  # noqa: E402
import attacks_b  # noqa: E402,F401
import attacks_c  # noqa: E402,F401
from benign_data import BENIGN  # noqa: E402

CLASSES = ["explicit_hijack", "implicit_hijack", "parameter_tampering", "invisible_characters", "obfuscated_text",
           "deep_schema", "shadowing", "secrets", "oversized"]


def write(path, rows):
    with open(path, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=True) + "\n")


def main():
    attacks = attacks_a.ATTACKS
    assert all(a["class"] in CLASSES for a in attacks)
    keys = [(a["server"], a["tool"]["name"]) for a in attacks + BENIGN]
    dup = [k for k, n in collections.Counter(keys).items() if n > 1]
    assert not dup, dup
    write(os.path.join(HERE, "attacks.jsonl"), attacks)
    write(os.path.join(HERE, "benign.jsonl"), BENIGN)
    c = collections.Counter(a["class"] for a in attacks)
    for k in CLASSES:
        print("%-22s %d" % (k, c[k]))
    print("%-22s %d" % ("attacks total", len(attacks)))
    print("%-22s %d" % ("benign", len(BENIGN)))


if __name__ == "__main__":
    main()
