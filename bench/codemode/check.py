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


# -- sqlite -------------------------------------------------------------------------------

def best_2025(env):
    return sql(env, "SELECT c.first_name || ' ' || c.last_name, c.email, ROUND(SUM(o.total), 2) AS t "
                    "FROM orders o JOIN customers c ON c.id = o.customer_id "
                    "WHERE o.ordered_at LIKE '2025-%' GROUP BY c.id ORDER BY t DESC")


@check
def sql_best_customer(env, answer, size):
    ranked = best_2025(env)
    (name, email, total), second = ranked[0], ranked[1]
    assert total > second[2], "the setup should have one best customer"
    entities, _ = graph(env)
    assert name in entities, f"no entity {name!r} in the graph: {sorted(entities)}"
    e = entities[name]
    eq(e["entityType"], "customer", "its type")
    eq(sorted(e["observations"]), sorted([f"email: {email}", f"total 2025: {total:.2f}"]), "its observations")
    eq(len(entities), 1, "entities in the graph")
    assert answer and name in answer, f"the answer does not name {name}: {answer!r}"
    assert second[0] not in answer, f"the answer names {second[0]} too"


@check
def restock(env, answer, size):
    before = {}
    for stmt in setup_of("restock")["sql"]:
        m = re.match(r"INSERT INTO products VALUES \((\d+), '[^']*', '[^']*', [\d.]+, (\d+), (\d+)\)", stmt)
        if m:
            before[int(m.group(1))] = (int(m.group(2)), int(m.group(3)))
    low = {p: (s, r) for p, (s, r) in before.items() if s < r}
    assert len(low) >= 3, "the setup should have several low products"
    now = {p: (s, r) for p, s, r in sql(env, "SELECT id, stock, reorder_level FROM products")}
    for p, (s, r) in before.items():
        eq(now[p], (2 * r, r) if p in low else (s, r), f"product {p}'s stock and reorder level")
    log = sorted(sql(env, "SELECT product_id, qty, note FROM restock_log"))
    eq(log, sorted((p, 2 * r - s, "auto") for p, (s, r) in low.items()), "restock_log")
    assert answer and str(len(low)) in answer, f"the answer does not say {len(low)}: {answer!r}"


@check
def export_orders_csv(env, answer, size):
    want = sql(env, "SELECT o.id, o.ordered_at, printf('%.2f', o.total) FROM orders o "
                    "JOIN customers c ON c.id = o.customer_id WHERE c.last_name = 'Lindqvist'")
    assert len(want) >= 3, "the setup should give Lindqvist several orders"
    lines = read(env, "exports/lindqvist.csv").splitlines()
    eq(lines[0], "order_id,date,total", "the header")
    rows = [tuple(l.split(",")) for l in lines[1:] if l]
    eq(sorted(rows), sorted((str(i), d, t) for i, d, t in want), "the rows")
    dates = [r[1] for r in rows]
    eq(dates, sorted(dates), "the order (oldest first)")


@check
def schema_doc(env, answer, size):
    tables = sorted(r[0] for r in sql(env, "SELECT name FROM sqlite_master WHERE type = 'table'"))
    want = {t: [f"- {c[1]}: {c[2]}" for c in sql(env, f"PRAGMA table_info({t})")] for t in tables}
    text = read(env, "docs/schema.md")
    got, current = {}, None
    order = []
    for line in text.splitlines():
        if line.startswith("## "):
            current = line[3:].strip()
            order.append(current)
            got[current] = []
        elif line.startswith("- ") and current:
            got[current].append(line.strip())
    eq(order, tables, "the tables, in order")
    eq(got, want, "the columns")


@check
def commits_to_sql(env, answer, size):
    want = [tuple(l.split("\x1f")) for l in git(env, "log", "-40", "--format=%H\x1f%an\x1f%s").splitlines()]
    got = sql(env, "SELECT hash, author, subject FROM commits")
    eq(sorted(got), sorted(want), "the commits table (hash, author, subject)")
    dates = sql(env, "SELECT date FROM commits")
    assert all(d[0] and d[0].startswith("2026-") for d in dates), f"dates: {dates[:3]}"
    counts = {}
    for _, a, _ in want:
        counts[a] = counts.get(a, 0) + 1
    ranked = sorted(counts.items(), key=lambda kv: -kv[1])
    assert ranked[0][1] > ranked[1][1], "the setup should have one top author"
    assert answer and ranked[0][0] in answer, f"the answer does not name {ranked[0][0]}: {answer!r}"
    assert ranked[1][0] not in answer, f"the answer names {ranked[1][0]} too"


@check
def log_error_counts(env, answer, size):
    with open(os.path.join(env.ws, "app.log")) as f:
        text = f.read()
    want = {}
    for comp in re.findall(r" ERROR \[(\w+)\]", text):
        want[comp] = want.get(comp, 0) + 1
    assert want, "the log should hold errors"
    eq(dict(sql(env, "SELECT component, errors FROM error_counts")), want, "error_counts")
    eq(len(sql(env, "SELECT * FROM error_counts")), len(want), "rows in error_counts")


# -- memory -------------------------------------------------------------------------------

def entity_lines(env):
    with open(env.memory) as f:
        return [json.loads(l) for l in f if l.strip() and json.loads(l).get("type") == "entity"]


@check
def project_graph(env, answer, size):
    rows = sql(env, "SELECT name, status, owner FROM projects")
    entities, relations = graph(env)
    for name, status, owner in rows:
        assert name in entities, f"project {name} missing"
        eq(entities[name]["entityType"], "project", f"{name}'s type")
        assert f"status: {status}" in entities[name]["observations"], f"{name}'s status"
        assert owner in entities, f"owner {owner} missing"
        eq(entities[owner]["entityType"], "person", f"{owner}'s type")
        assert (name, "owned_by", owner) in relations, f"{name} owned_by {owner} missing"
    eq(len(entities), len(rows) + len({r[2] for r in rows}), "entities in the graph")
    eq(len(relations), len(rows), "relations in the graph")


@check
def team_csv_graph(env, answer, size):
    people = [l.split(",") for l in read(env, "team.csv").strip().splitlines()[1:]]
    entities, relations = graph(env)
    names = [e["name"] for e in entity_lines(env)]
    eq(len(names), len(set(names)), "entities are unique")
    for name, role in people:
        assert name in entities, f"{name} missing"
        eq(entities[name]["entityType"], "person", f"{name}'s type")
        assert f"role: {role}" in entities[name]["observations"], f"{name}'s role"
        assert (name, "works_on", "Atlas") in relations, f"{name} works_on Atlas missing"
    assert "email: bo@example.com" in entities["Bo Chen"]["observations"], "Bo Chen lost his email"
    eq(entities["Atlas"]["entityType"], "project", "Atlas's type")
    assert ("Chidi Okafor", "works_on", "Borealis") in relations, "an unrelated relation was lost"


@check
def dedupe_people(env, answer, size):
    seeded = setup_of("dedupe-people")["memory"]
    ents = {l["name"]: l for l in seeded if l["type"] == "entity"}
    by_email = {}
    for e in ents.values():
        by_email.setdefault(e["observations"][0], []).append(e)
    pairs = [sorted(v, key=lambda e: -len(e["observations"])) for v in by_email.values() if len(v) == 2]
    assert len(pairs) == 3, "the setup should hold three pairs"
    rename = {d["name"]: k["name"] for k, d in pairs}
    entities, relations = graph(env)
    eq(sorted(entities), sorted(n for n in ents if n not in rename), "the entities left")
    for keep, drop in pairs:
        want = set(keep["observations"]) | set(drop["observations"])
        eq(set(entities[keep["name"]]["observations"]), want, f"{keep['name']}'s observations")
    want_rel = {(rename.get(l["from"], l["from"]), l["relationType"], rename.get(l["to"], l["to"]))
                for l in seeded if l["type"] == "relation"}
    eq(relations, want_rel, "the relations")


@check
def ada_extension(env, answer, size):
    entities, _ = graph(env)
    ext = next(o for o in entities["Ada Lovelace"]["observations"] if o.startswith("extension: "))[11:]
    assert answer and ext in answer, f"the answer lacks {ext}: {answer!r}"
    others = {o[11:] for e in entities.values() for o in e["observations"]
              if o.startswith("extension: ") and o[11:] != ext}
    wrong = [o for o in others if o in answer]
    assert not wrong, f"the answer names other extensions: {wrong}"


@check
def warmest_city(env, answer, size):
    entities, _ = graph(env)
    assert "Weather check" in entities, f"no Weather check entity: {sorted(entities)}"
    eq(entities["Weather check"]["entityType"], "note", "its type")
    # server-everything's get-structured-content: New York 33, Chicago 36, Los Angeles 73.
    eq(entities["Weather check"]["observations"], ["warmest: Los Angeles (73 C)"], "its observation")


# -- time, everything ---------------------------------------------------------------------

def local_hhmm(src_tz, hhmm, dst_tz):
    """A time of day today in src_tz, as mcp-server-time converts it (today's date in
    the source zone), in dst_tz."""
    today = datetime.datetime.now(ZoneInfo(src_tz)).date()
    h, m = map(int, hhmm.split(":"))
    t = datetime.datetime(today.year, today.month, today.day, h, m, tzinfo=ZoneInfo(src_tz))
    return t.astimezone(ZoneInfo(dst_tz)).strftime("%H:%M")


@check
def meeting_times(env, answer, size):
    lines = read(env, "meeting.txt").splitlines()
    eq(lines[0], "Design review: 15:00 America/New_York", "the first line")
    want = [f"{tz}: {local_hhmm('America/New_York', '15:00', tz)}" for tz in ["Europe/Berlin", "Asia/Tokyo"]]
    eq([l for l in lines[1:] if l.strip()], want, "the lines added")


@check
def deadlines_utc(env, answer, size):
    rows = [l.split(",") for l in read(env, "deadlines.csv").strip().splitlines()[1:]]
    want = ["task,utc_time"] + [f"{t},{local_hhmm(tz, hhmm, 'UTC')}" for t, hhmm, tz in rows]
    eq([l for l in read(env, "deadlines_utc.csv").splitlines() if l.strip()], want, "deadlines_utc.csv")


@check
def build_id(env, answer, size):
    from run import BUILD_ID

    lines = read(env, "build.txt").splitlines()
    eq(lines[0], f"BUILD_ID={BUILD_ID}", "the first line")
    assert lines[1].startswith("checked: "), f"the second line: {lines[1]!r}"
    when = datetime.datetime.fromisoformat(lines[1][len("checked: "):].strip().replace("Z", "+00:00"))
    assert when.utcoffset() == datetime.timedelta(0), f"not UTC: {lines[1]!r}"
    age = datetime.datetime.now(datetime.timezone.utc) - when
    assert abs(age.total_seconds()) < 600, f"the time is {age} off"


@check
def sum_single(env, answer, size):
    assert answer and "50190.75" in answer, f"the answer lacks 50190.75: {answer!r}"


@check
def tokyo_now(env, answer, size):
    now = datetime.datetime.now(ZoneInfo("Asia/Tokyo"))
    near = {(now + datetime.timedelta(minutes=d)).strftime("%H:%M") for d in range(-3, 4)}
    assert answer and any(t in answer for t in near), f"the answer has no time near {now:%H:%M}: {answer!r}"


# -- files (listing) ----------------------------------------------------------------------

@check
def dir_summary(env, answer, size):
    base = os.path.join(env.ws, "dataset")
    want = []
    for folder in sorted(d for d in os.listdir(base) if os.path.isdir(os.path.join(base, d))):
        names = os.listdir(os.path.join(base, folder))
        want.append(f"{folder}: {len(names)} files, {sum(n.endswith('.csv') for n in names)} csv")
    eq([l for l in read(env, "dataset/SUMMARY.md").splitlines() if l.strip()], want, "SUMMARY.md")
