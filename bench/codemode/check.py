"""The checkers: one function a task, `CHECKS[id](env, answer, size)`, which reads the
final state the servers left (the workspace, the git repository, the SQLite database,
the knowledge graph's file) and the final answer, and raises AssertionError saying what
is wrong. The expected values are computed from the seeded state or from the task's
own setup, never copied from a run, so a wrong step in any arm fails here. A checker of
an answer looks for the values asked for, and fails an answer that also names a wrong
candidate.
"""
import datetime
import json
import os
import re
import sqlite3
import subprocess
from zoneinfo import ZoneInfo

import seed

CHECKS = {}
HERE = os.path.dirname(os.path.abspath(__file__))


def check(fn):
    CHECKS[fn.__name__.replace("_", "-")] = fn
    return fn


def setup_of(task_id, size=None):
    with open(os.path.join(HERE, "tasks", task_id + ".json")) as f:
        return seed.merged(json.load(f).get("setup", {}), size)


def read(env, rel):
    with open(os.path.join(env.ws, rel)) as f:
        return f.read()


def git(env, *args):
    return subprocess.run(["git", "-C", env.repo, *args], check=True, capture_output=True,
                          text=True).stdout


def sql(env, query, params=()):
    conn = sqlite3.connect(env.db)
    try:
        return conn.execute(query, params).fetchall()
    finally:
        conn.close()


def graph(env):
    entities, relations = {}, set()
    with open(env.memory) as f:
        for line in f:
            if not line.strip():
                continue
            obj = json.loads(line)
            if obj.get("type") == "entity":
                entities[obj["name"]] = obj
            elif obj.get("type") == "relation":
                relations.add((obj["from"], obj["relationType"], obj["to"]))
    return entities, relations


def eq(got, want, what):
    assert got == want, f"{what}: got {got!r}, want {want!r}"


def head_message(env, rev="HEAD"):
    return git(env, "log", "-1", "--format=%s", rev).strip()


def clean(env):
    status = git(env, "status", "--porcelain")
    assert status.strip() == "", f"uncommitted changes left: {status!r}"


# -- files --------------------------------------------------------------------------------

@check
def errors_largest_log(env, answer, size):
    logs = os.path.join(env.ws, "logs")
    biggest = max(os.listdir(logs), key=lambda n: os.path.getsize(os.path.join(logs, n)))
    with open(os.path.join(logs, biggest)) as f:
        want = [l for l in f.read().splitlines() if " ERROR " in l]
    got = read(env, "reports/errors.txt").splitlines()
    eq(got, want, "reports/errors.txt")
    assert answer and biggest in answer, f"the answer does not name {biggest}: {answer!r}"
    others = [n for n in os.listdir(logs) if n != biggest and n in answer]
    assert not others, f"the answer also names {others}"


@check
def todo_collect(env, answer, size):
    src = os.path.join(env.ws, "src")
    want = []
    for d, _, names in os.walk(src):
        for n in names:
            if not n.endswith(".py"):
                continue
            path = os.path.join(d, n)
            with open(path) as f:
                for i, line in enumerate(f.read().split("\n"), 1):
                    if "TODO:" in line:
                        want.append((os.path.relpath(path, src), i, line.split("TODO:", 1)[1].strip()))
    want = [f"{p}:{i}: {t}" for p, i, t in sorted(want)]
    assert len(want) >= 5, "the setup should hold several TODOs"
    got = [l for l in read(env, "TODO.md").splitlines() if l.strip()]
    eq(got, want, "TODO.md")


# -- git ----------------------------------------------------------------------------------

@check
def changelog_since(env, answer, size):
    commits = setup_of("changelog-since")["repo"]["commits"]
    recent = [c["message"] for c in reversed(commits) if c["date"] >= "2026-06-01"]
    want_feat = [s for s in recent if s.startswith("feat:")]
    want_fix = [s for s in recent if s.startswith("fix:")]
    assert want_feat and want_fix, "the history should hold both kinds since June"
    eq(head_message(env), "docs: changelog", "the last commit's message")
    text = git(env, "show", "HEAD:CHANGELOG.md")
    sections, current = {}, None
    for line in text.splitlines():
        if line.startswith("## "):
            current = line[3:].strip()
            sections[current] = []
        elif line.startswith("- ") and current:
            sections[current].append(line[2:].strip())
    eq(sections.get("Features"), want_feat, "## Features")
    eq(sections.get("Fixes"), want_fix, "## Fixes")
    clean(env)


@check
def bug_introduced(env, answer, size):
    sha = git(env, "log", "--format=%h %an", "-S", "timeout = 0", "--", "config.py").split()
    short, author = sha[0][:7], " ".join(sha[1:])
    assert answer and short in answer, f"the answer lacks {short}: {answer!r}"
    assert author in answer, f"the answer lacks {author}: {answer!r}"
    others = [h[:7] for h in git(env, "log", "--format=%h").split() if h[:7] != short and h[:7] in answer]
    assert not others, f"the answer also names {others}"


@check
def config_merge_commit(env, answer, size):
    want = {"service": {"name": "shop", "port": 8080, "workers": 8},
            "db": {"host": "db.prod.internal", "pool": 5, "ssl": True},
            "features": {"search": True, "export": True}, "log_level": "warn"}
    text = git(env, "show", "HEAD:config/effective.json")
    eq(json.loads(text), want, "config/effective.json")
    assert text.startswith('{\n  "'), "not indented with 2 spaces"
    eq(head_message(env), "config: effective settings", "the last commit's message")
    clean(env)


@check
def typo_branch(env, answer, size):
    eq(head_message(env, "fix/receive"), "Fix spelling of receive", "fix/receive's last commit")
    eq(git(env, "rev-parse", "fix/receive~1").strip(), git(env, "rev-parse", "main").strip(),
       "fix/receive's parent (main)")
    fixed = git(env, "show", "fix/receive:README.md")
    original = git(env, "show", "main:README.md")
    eq(fixed, original.replace("recieve", "receive"), "README.md on fix/receive")
    assert "recieve" in original, "main's README was changed"
    eq(head_message(env, "main"), "Add license", "main's last commit")
    eq(git(env, "diff", "--name-only", "main", "fix/receive").split(), ["README.md"],
       "files changed on fix/receive")


@check
def version_bump(env, answer, size):
    eq(head_message(env), "release: 1.4.3", "the last commit's message")
    eq(json.loads(git(env, "show", "HEAD:package.json"))["version"], "1.4.3", "package.json version")
    assert 'VERSION = "1.4.3"' in git(env, "show", "HEAD:src/version.py"), "src/version.py"
    log = git(env, "show", "HEAD:CHANGELOG.md")
    heads = re.findall(r"^## (.*)$", log, re.M)
    eq(heads, ["1.4.3", "1.4.2", "1.4.1"], "CHANGELOG.md headings")
    entry = log.split("## 1.4.3", 1)[1].split("## 1.4.2", 1)[0]
    eq([l for l in entry.splitlines() if l.strip()], ["- Maintenance release"], "the 1.4.3 entry")
    assert log.startswith("# Changelog\n"), "the title moved"
    eq(sorted(git(env, "diff", "--name-only", "HEAD~1", "HEAD").split()),
       ["CHANGELOG.md", "package.json", "src/version.py"], "files in the release commit")
    clean(env)
