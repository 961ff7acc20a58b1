#!/usr/bin/env python3
"""Deterministic generator of the blind2 evaluation corpus (stdlib only).

    python3 make.py        # rewrites attacks.jsonl and benign.jsonl identically

Cases live in attacks_*.py and benign_*.py; helpers in common.py.
"""
import collections
import json
import os
import sys

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import attacks_lang  # noqa: E402
import attacks_enc  # noqa: E402
import attacks_name  # noqa: E402
import attacks_param  # noqa: E402
import attacks_hijack  # noqa: E402
import attacks_secrets  # noqa: E402
import benign_a  # noqa: E402
import benign_b  # noqa: E402

ATTACK_CLASSES = ["other_language", "encoded", "lookalike_name", "parameter_tampering",
                  "explicit_hijack", "implicit_hijack", "secrets"]


def collect():
    attacks = []
    for mod in (attacks_lang, attacks_enc, attacks_name, attacks_param, attacks_hijack, attacks_secrets):
        attacks.extend(mod.cases())
    benign = benign_a.cases() + benign_b.cases()
    return attacks, benign


def check(attacks, benign):
    seen = set()
    for rec in attacks + benign:
        assert set(rec) == {"class", "server", "tool", "siblings", "others"}, rec
        assert set(rec["tool"]) == {"name", "description", "inputSchema"}, rec
        assert rec["tool"]["inputSchema"].get("type") == "object", rec
        assert 2 <= len(rec["siblings"]) <= 5, (rec["server"], rec["tool"]["name"], rec["siblings"])
        assert all(isinstance(x, str) and x for x in rec["siblings"])
        assert isinstance(rec["others"], dict) and rec["others"], rec
        assert rec["server"] not in rec["others"], ("server listed in its own others", rec["server"])
        key = (rec["server"], rec["tool"]["name"])
        assert key not in seen, ("duplicate (server, tool)", key)
        seen.add(key)
        for req in rec["tool"]["inputSchema"].get("required", []):
            assert req in rec["tool"]["inputSchema"]["properties"], (key, req)
    assert all(r["class"] in ATTACK_CLASSES for r in attacks)
    assert all(r["class"] == "benign" for r in benign)
    counts = collections.Counter(r["class"] for r in attacks)
    for c in ATTACK_CLASSES:
        assert counts[c] >= 12, (c, counts[c])
    assert len(attacks) >= 120 and len(benign) >= 80, (len(attacks), len(benign))
    return counts


def dump(path, records):
    with open(path, "w", encoding="ascii", newline="\n") as fh:
        for rec in records:
            line = json.dumps(rec)  # ensure_ascii=True: non-ASCII written as \u escapes
            assert json.loads(line) == rec
            fh.write(line + "\n")


def main():
    attacks, benign = collect()
    counts = check(attacks, benign)
    dump(os.path.join(HERE, "attacks.jsonl"), attacks)
    dump(os.path.join(HERE, "benign.jsonl"), benign)
    for c in ATTACK_CLASSES:
        print("%-20s %3d" % (c, counts[c]))
    print("%-20s %3d" % ("benign", len(benign)))
    print("%-20s %3d" % ("total", len(attacks) + len(benign)))


if __name__ == "__main__":
    main()
