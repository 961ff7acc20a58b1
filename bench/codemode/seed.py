"""A task's starting state, laid down afresh before each arm runs it: files in the
workspace (the filesystem server's one allowed directory), a git repository in it (the
git server's one repository), the SQLite database (the sqlite server's), and the
knowledge graph (the memory server's JSONL file). The servers keep running between
tasks: each reads its state from disk at every call (the sqlite server opens the file
per query, the memory server reads its file per operation), so a reset between runs is
a reset of what they serve.

A task's `setup` (in tasks/<id>.json):
    "files":    {"path under the workspace": "content", ...}
    "repo":     {"commits": [{"message", "author"?, "date"?, "files": {"path": "content"
                 or null to delete}}], "branches"?: [names made at the last commit]}
    "sql":      ["statement", ...]                      run in order on an empty database
    "memory":   [{"type": "entity" | "relation", ...}]  the graph's lines
    "generate": [{"fn": NAME, "args": {...}}]           a generator below, deterministic
                (seeded), whose output is merged into the above; an argument written
                "$size" takes the size a sweep gives (else the task's "size").
"""
import json
import os
import random
import shutil
import sqlite3
import subprocess

AUTHORS = [("Ana Ruiz", "ana@example.com"), ("Bo Chen", "bo@example.com"),
           ("Chidi Okafor", "chidi@example.com"), ("Dana Levy", "dana@example.com")]


class Env:
    """Where one run's state lives; the servers are started pointing here."""

    def __init__(self, root):
        self.root = root
        self.ws = os.path.join(root, "ws")
        self.repo = os.path.join(self.ws, "repo")
        self.db = os.path.join(root, "db", "shop.db")
        self.memory = os.path.join(root, "memory", "graph.jsonl")

    def prepare(self):
        for d in (self.ws, os.path.dirname(self.db), os.path.dirname(self.memory)):
            os.makedirs(d, exist_ok=True)
        reset(self, {}, None)

    def subst(self, text):
        return text.replace("{ws}", self.ws).replace("{repo}", self.repo)


def git(repo, *args, env=None):
    return subprocess.run(["git", "-C", repo, *args], check=True, capture_output=True,
                          text=True, env=env).stdout


def reset(env, setup, size):
    setup = merged(setup, size)
    # The workspace: emptied in place (the filesystem server resolved it at start).
    for name in os.listdir(env.ws):
        p = os.path.join(env.ws, name)
        if os.path.isdir(p) and not os.path.islink(p):
            shutil.rmtree(p)
        else:
            os.remove(p)
    make_repo(env.repo, setup.get("repo") or {"commits": [
        {"message": "Initial commit", "files": {"README.md": "# scratch\n"}}]})
    for rel, content in setup.get("files", {}).items():
        write(os.path.join(env.ws, rel), content)
    if os.path.exists(env.db):
        os.remove(env.db)
    conn = sqlite3.connect(env.db)
    try:
        for stmt in setup.get("sql", []):
            conn.execute(stmt)
        conn.commit()
    finally:
        conn.close()
    with open(env.memory, "w") as f:
        for line in setup.get("memory", []):
            f.write(json.dumps(line) + "\n")


def write(path, content):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(content)


def make_repo(repo, spec):
    os.makedirs(repo)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.name", "Bench User")
    git(repo, "config", "user.email", "bench@example.com")
    git(repo, "config", "commit.gpgsign", "false")
    for i, c in enumerate(spec["commits"]):
        for rel, content in c["files"].items():
            path = os.path.join(repo, rel)
            if content is None:
                git(repo, "rm", "-q", rel)
            else:
                write(path, content)
                git(repo, "add", rel)
        name, email = c.get("author", AUTHORS[i % len(AUTHORS)])
        date = c.get("date", f"2026-01-{1 + i % 28:02d}T10:00:00+00:00")
        cenv = dict(os.environ, GIT_AUTHOR_NAME=name, GIT_AUTHOR_EMAIL=email,
                    GIT_COMMITTER_NAME=name, GIT_COMMITTER_EMAIL=email,
                    GIT_AUTHOR_DATE=date, GIT_COMMITTER_DATE=date)
        git(repo, "commit", "-q", "--allow-empty", "-m", c["message"], env=cenv)
    for b in spec.get("branches", []):
        git(repo, "branch", b)


def merged(setup, size):
    out = {k: (dict(v) if isinstance(v, dict) else list(v) if isinstance(v, list) else v)
           for k, v in setup.items() if k != "generate"}
    for g in setup.get("generate", []):
        args = {k: (size if v == "$size" else v) for k, v in g.get("args", {}).items()}
        part = GENERATORS[g["fn"]](**args)
        for key, value in part.items():
            if key == "repo":
                out["repo"] = value
            elif isinstance(value, dict):
                out.setdefault(key, {}).update(value)
            else:
                out.setdefault(key, []).extend(value)
    return out


# -- generators: each returns {"files": {...}, "sql": [...], "memory": [...], "repo": {...}}

COMPONENTS = ["auth", "billing", "search", "mailer", "cache", "api", "worker"]
LEVELS = ["INFO"] * 12 + ["DEBUG"] * 5 + ["WARN"] * 2 + ["ERROR"]
MESSAGES = ["request handled in {n} ms", "retrying after {n} ms", "cache miss for key k{n}",
            "connection reset by peer (attempt {n})", "queue depth {n}", "user u{n} signed in",
            "timeout after {n} ms", "payload of {n} bytes rejected"]


def log_lines(rng, n, day="2026-11-20"):
    lines = []
    for i in range(n):
        t = 8 * 3600 + i * 7
        lvl = rng.choice(LEVELS)
        comp = rng.choice(COMPONENTS)
        msg = rng.choice(MESSAGES).format(n=rng.randint(1, 9999))
        lines.append(f"{day}T{t // 3600 % 24:02d}:{t // 60 % 60:02d}:{t % 60:02d}Z {lvl} [{comp}] {msg}")
    return lines


def service_logs(count=60):
    rng = random.Random(77)
    files = {}
    sizes = rng.sample(range(20, 400), count)
    for i in range(count):
        name = f"{rng.choice(COMPONENTS)}-{i:02d}.log"
        files[f"logs/{name}"] = "\n".join(log_lines(rng, sizes[i])) + "\n"
    return {"files": files}


def app_log(lines=1000):
    rng = random.Random(1000 + lines)
    return {"files": {"app.log": "\n".join(log_lines(rng, lines)) + "\n"}}


PY_WORDS = ["parse", "load", "save", "render", "fetch", "merge", "split", "check", "build"]


def python_tree(files=25):
    rng = random.Random(25)
    out = {}
    for i in range(files):
        pkg = rng.choice(["core", "io", "web", "util"])
        lines = [f'"""Module {i} of the {pkg} package."""', "import os", ""]
        for j in range(rng.randint(3, 9)):
            w = rng.choice(PY_WORDS)
            lines += [f"def {w}_{j}(value):", f"    # compute the {w} step"]
            if rng.random() < 0.18:
                lines.append(f"    # TODO: handle {rng.choice(['empty', 'large', 'unicode', 'negative'])} values in {w}_{j}")
            lines += [f"    return value + {j}", ""]
        out[f"src/{pkg}/mod_{i:02d}.py"] = "\n".join(lines) + "\n"
    out["src/README.txt"] = "TODO: this readme is not a Python file\n"
    return {"files": out}


def conventional_history(commits=30):
    rng = random.Random(30)
    kinds = ["feat", "fix", "docs", "chore", "fix", "feat", "refactor"]
    topics = ["login form", "invoice totals", "search ranking", "mail retries", "cache keys",
              "rate limits", "export to CSV", "dark mode", "audit log", "time zones"]
    authors = random.Random(31)
    spec = []
    for i in range(commits):
        month = 1 + i * 11 // commits
        kind = rng.choice(kinds)
        spec.append({"message": f"{kind}: {rng.choice(topics)} ({i + 1})",
                     "author": authors.choices(AUTHORS, weights=[2, 5, 3, 1])[0],
                     "date": f"2026-{month:02d}-{1 + (i * 7) % 27:02d}T09:30:00+00:00",
                     "files": {f"src/part{i % 5}.txt": f"revision {i}\n"}})
    return {"repo": {"commits": spec}}


def shop(customers=40, orders=400):
    rng = random.Random(40)
    first = ["Ana", "Bo", "Chidi", "Dana", "Emil", "Fatima", "Goran", "Hana", "Ivo", "Jun"]
    last = ["Lindqvist", "Moreau", "Nakamura", "Okoro", "Petrov", "Quinn", "Rossi", "Sato",
            "Tanaka", "Ulloa", "Varga", "Weber"]
    sql = ["CREATE TABLE customers (id INTEGER PRIMARY KEY, first_name TEXT, last_name TEXT, email TEXT, city TEXT)",
           "CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER REFERENCES customers(id), ordered_at TEXT, total REAL)",
           "CREATE TABLE products (id INTEGER PRIMARY KEY, name TEXT, category TEXT, price REAL, stock INTEGER, reorder_level INTEGER)",
           "CREATE TABLE restock_log (id INTEGER PRIMARY KEY, product_id INTEGER REFERENCES products(id), qty INTEGER, note TEXT)"]
    names = [(f, l) for f in first for l in last if l != "Lindqvist"]
    rng.shuffle(names)
    names = names[:customers]
    names[6] = ("Emil", "Lindqvist")  # exactly one Lindqvist
    for cid, (f, l) in enumerate(names, 1):
        sql.append(f"INSERT INTO customers VALUES ({cid}, '{f}', '{l}', '{f.lower()}.{l.lower()}@example.com', '{rng.choice(['Oslo', 'Lyon', 'Osaka', 'Lagos', 'Turin'])}')")
    for oid in range(1, orders + 1):
        year = rng.choice([2024, 2025, 2025, 2026])
        day = f"{year}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        total = round(rng.uniform(5, 400), 2)
        sql.append(f"INSERT INTO orders VALUES ({oid}, {rng.randint(1, customers)}, '{day}', {total})")
    cats = ["garden", "kitchen", "office", "toys"]
    for pid in range(1, 31):
        reorder = rng.choice([5, 10, 20])
        stock = rng.randint(0, 3 * reorder)
        sql.append(f"INSERT INTO products VALUES ({pid}, 'item-{pid:02d}', '{cats[pid % 4]}', {round(rng.uniform(2, 90), 2)}, {stock}, {reorder})")
    return {"sql": sql}


def projects():
    rows = [("Atlas", "active", "Ana Ruiz"), ("Borealis", "paused", "Bo Chen"),
            ("Cobalt", "active", "Ana Ruiz"), ("Dynamo", "done", "Dana Levy"),
            ("Ember", "active", "Chidi Okafor")]
    sql = ["CREATE TABLE projects (id INTEGER PRIMARY KEY, name TEXT, status TEXT, owner TEXT, budget INTEGER)"]
    for i, (n, s, o) in enumerate(rows, 1):
        sql.append(f"INSERT INTO projects VALUES ({i}, '{n}', '{s}', '{o}', {i * 12000})")
    return {"sql": sql}


def people_graph(people=24, duplicates=3):
    rng = random.Random(24)
    first = ["Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "John", "Radia",
             "Ken", "Leslie", "Margaret", "Niklaus", "Tony", "Vint", "Whitfield", "Yukihiro",
             "Zhang", "Hedy", "Katherine", "Claude", "Dennis", "Guido", "Linus"]
    last = ["Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "Backus",
            "Perlman", "Thompson", "Lamport", "Hamilton", "Wirth", "Hoare", "Cerf", "Diffie",
            "Matsumoto", "Wei", "Lamarr", "Johnson", "Shannon", "Ritchie", "Rossum", "Torvalds"]
    lines = []
    for i in range(people):
        name = f"{first[i]} {last[i]}"
        obs = [f"email: {first[i].lower()}.{last[i].lower()}@example.com",
               f"extension: {4400 + i * 71 % 97}",
               f"team: {rng.choice(['platform', 'data', 'apps', 'infra'])}"]
        if rng.random() < 0.5:
            obs.append(f"likes: {rng.choice(['tea', 'coffee', 'chess', 'running', 'jazz'])}")
        lines.append({"type": "entity", "name": name, "entityType": "person", "observations": obs})
    for i in range(people - 1):
        lines.append({"type": "relation", "from": lines[i]["name"], "to": lines[i + 1]["name"],
                      "relationType": "mentors" if i % 3 == 0 else "works_with"})
    # Misspelt duplicates: the same email, fewer observations, one relation each.
    for k, (i, spelt) in enumerate([(2, "Allan Turing"), (5, "Don Knuth"), (11, "Margret Hamilton")][:duplicates]):
        email = lines[i]["observations"][0]
        lines.append({"type": "entity", "name": spelt, "entityType": "person",
                      "observations": [email, f"desk: B{k + 2}"]})
        lines.append({"type": "relation", "from": spelt, "to": lines[(i + 7) % people]["name"],
                      "relationType": "reviews_for"})
    return {"memory": lines}


def dataset_tree(per_folder=80):
    rng = random.Random(80)
    files = {}
    for folder in ["raw", "clean", "archive"]:
        for i in range(per_folder + rng.randint(-15, 15)):
            ext = rng.choice(["csv", "csv", "json", "parquet.txt", "md"])
            files[f"dataset/{folder}/part-{i:03d}.{ext}"] = "x" * rng.randint(10, 5000)
    return {"files": files}


GENERATORS = {
    "service_logs": service_logs,
    "app_log": app_log,
    "python_tree": python_tree,
    "conventional_history": conventional_history,
    "shop": shop,
    "projects": projects,
    "people_graph": people_graph,
    "dataset_tree": dataset_tree,
}
