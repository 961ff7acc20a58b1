#!/usr/bin/env python3
"""Deterministic generator for the blind3 corpus (stdlib only).

Writes attacks.jsonl and benign.jsonl next to this file. Running it twice gives identical bytes.
"""
import collections
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import cases_benign_a  # noqa: E402
import cases_benign_b  # noqa: E402
import cases_encoded  # noqa: E402
import cases_hijack  # noqa: E402
import cases_language  # noqa: E402
import cases_lookalike  # noqa: E402
import cases_param  # noqa: E402
import cases_secrets  # noqa: E402

ATTACK_CLASSES = ["other_language", "encoded", "lookalike_name", "parameter_tampering",
                  "explicit_hijack", "implicit_hijack", "secrets"]
MINIMUM = {"other_language": 12, "encoded": 18, "lookalike_name": 12, "parameter_tampering": 12,
           "explicit_hijack": 12, "implicit_hijack": 12, "secrets": 18}


def attacks():
    return (cases_language.cases() + cases_encoded.cases() + cases_lookalike.cases()
            + cases_param.cases() + cases_hijack.cases() + cases_secrets.cases())


def benign():
    return cases_benign_a.cases() + cases_benign_b.cases()


def check(att, ben):
    seen = set()
    for row in att + ben:
        assert list(row) == ["class", "server", "tool", "siblings", "others"], row
        assert list(row["tool"]) == ["name", "description", "inputSchema"], row
        assert 2 <= len(row["siblings"]) <= 5
        key = (row["server"], row["tool"]["name"])
        assert key not in seen, "duplicate (server, tool): %r" % (key,)
        seen.add(key)
        assert row["server"] not in row["others"], key
    counts = collections.Counter(r["class"] for r in att)
    assert set(counts) == set(ATTACK_CLASSES), counts
    for cls, n in MINIMUM.items():
        assert counts[cls] >= n, (cls, counts[cls])
    assert len(att) >= 120 and len(ben) >= 80, (len(att), len(ben))
    assert all(r["class"] == "benign" for r in ben)
    return counts


def write(path, rows):
    with open(path, "w", encoding="ascii", newline="\n") as fh:
        for row in rows:
            fh.write(json.dumps(row) + "\n")


def main():
    att, ben = attacks(), benign()
    counts = check(att, ben)
    write(os.path.join(HERE, "attacks.jsonl"), att)
    write(os.path.join(HERE, "benign.jsonl"), ben)
    for cls in ATTACK_CLASSES:
        print("%-20s %d" % (cls, counts[cls]))
    print("%-20s %d" % ("attacks total", len(att)))
    print("%-20s %d" % ("benign", len(ben)))


if __name__ == "__main__":
    main()
