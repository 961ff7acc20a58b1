"""Reads both files in one call, merges, writes, stages and commits."""
import json


def merge(a, b):
    out = dict(a)
    for k, v in b.items():
        out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def run(t):
    base, prod = f"{t.repo}/config/base.json", f"{t.repo}/config/prod.json"
    both = t.call("files__read_multiple_files", {"paths": [base, prod]}, need="read several files at once")
    parsed = {}
    for block in both.text.split("\n---\n"):
        head, _, body = block.lstrip("\n").partition(":\n")
        parsed[head] = json.loads(body)
    merged = merge(parsed[base], parsed[prod])
    t.call("files__write_file", {"path": f"{t.repo}/config/effective.json",
                                 "content": json.dumps(merged, indent=2) + "\n"}, need="write a text file")
    t.call("git__git_add", {"repo_path": t.repo, "files": ["config/effective.json"]},
           need="git add a file to the staging area")
    t.call("git__git_commit", {"repo_path": t.repo, "message": "config: effective settings"},
           need="git commit the staged changes")
    return "config/effective.json written and committed."
