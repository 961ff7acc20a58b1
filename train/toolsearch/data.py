#!/usr/bin/env python3
"""Builds tool search's training pairs from pinned public data, and the held-out sets.

usage: train/toolsearch/data.py METATOOL_GIT GORILLA_GIT TOUCAN_GIT LIVEMCPBENCH_GIT OUT_DIR

The four are git directories of HowieHwong/MetaTool, ShishirPatil/gorilla,
TheAgentArk/Toucan and icip-cas/LiveMCPBench (any clone holding the pinned commits below;
files are read with `git show COMMIT:PATH`, and each file's SHA-256 is checked against
DATA below). LiveMCPBench is read only to hold its servers out of Toucan's. With
MULTI_TURN=turns (or turns,tasks), BFCL's multi-turn tasks are pairs too (the eighth to
tenth runs of README.md, none of them shipped).

Writes OUT_DIR/train.jsonl, one pair a line: {"q": need, "pos": tool text, "negs": [tool
texts of the same server or call], "from": source}. A tool's text is what the gateway
embeds (src/search/text.rs `embedded`: name's words, title, description's first 600
characters, parameters' names, server).

Held out, by tool, never by query (nothing of them is in any pair, as need, positive or
negative):
- every tool of bench/toolsearch's servers (target/toolsearch/tools.json) and of
  LiveMCPBench (../shared/toolsearch-external/livemcpbench), and any training tool whose
  own name reads the same as one of theirs (BFCL's `read_file` would otherwise teach
  the filesystem server's);
- half of MetaTool's 199 tools, chosen by seed (bench/toolsearch/metatool-heldout.txt,
  written here): their queries, descriptions and the multi-tool queries naming them.
  The benchmark reports MetaTool on these tools' queries only.
- every Toucan server that is one of LiveMCPBench's 70 (its repository is one of theirs,
  or its tools' names cover 60 % of one of theirs: all of a server of one or two tools).
"""
import csv
import hashlib
import io
import json
import os
import random
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
EXT = os.environ.get("TOOLSEARCH_EXTERNAL", os.path.join(ROOT, "..", "shared", "toolsearch-external"))
SEED = 85

METATOOL = "35e81bb7576826e980c80fed8f8c0a2b4a1e6fbb"
GORILLA = "6ea57973c7a6097fd7c5915698c54c17c5b1b6c8"
BFCL = "berkeley-function-call-leaderboard/bfcl_eval/data/"
TOUCAN = "a1976dea7688c0f36533aa6e3a3fa4c27e017b4b"
LIVEMCPBENCH = "a928e57d1ee7a25579b9a7036030faffff72d15b"
TOUCAN_PAIRS = 3000  # definitions as needs, at most; a sample by seed
TOUCAN_PER_SERVER = 8
# BFCL's multi-turn tasks: a user's turns over a few API classes (a file system, travel,
# trading, messages...), each turn answered by calls of their functions.
BFCL_MULTI_TURN = "multi_turn_base"
# Which of them `data.py` writes (MULTI_TURN, comma-separated): `turns` (each turn a need;
# the eighth and ninth runs), `tasks` (a task's turns joined, one need; the tenth). None
# by default: the shipped model (the third run) was trained without them.
MULTI_TURN = set(filter(None, os.environ.get("MULTI_TURN", "").split(",")))
if not MULTI_TURN <= {"turns", "tasks"}:
    sys.exit(f"MULTI_TURN={os.environ['MULTI_TURN']}: say turns, tasks or turns,tasks")
BFCL_CLASS_DOCS = "berkeley-function-call-leaderboard/bfcl_eval/constants/executable_backend_config.py"
BFCL_SETS = ["live_multiple", "multiple", "live_simple", "simple_python", "simple_java",
             "simple_javascript", "parallel_multiple", "live_parallel_multiple"]

# (repo, commit, path) -> sha256 of the file's bytes at that commit.
DATA = json.load(open(os.path.join(HERE, "data.sha256.json")))


def show(git, commit, path, digest=None):
    """The file at the commit, its bytes checked against DATA (or, with `digest`, added
    to that running digest of many files, which the caller checks)."""
    b = subprocess.run(["git", "--git-dir", git, "show", f"{commit}:{path}"],
                       check=True, capture_output=True).stdout
    if digest is not None:
        digest.update(path.encode() + b"\0" + hashlib.sha256(b).digest())
        return b.decode("utf-8")
    pinned(path, commit, hashlib.sha256(b).hexdigest())
    return b.decode("utf-8")


def pinned(path, commit, got):
    want = DATA.get(path)
    if want is None:
        DATA[path] = got
    elif want != got:
        sys.exit(f"{path} @{commit[:7]}: SHA-256 {got}, pinned {want}: not the pinned data")


def split_name(name):
    """src/search/text.rs split_name: words at every boundary of a name, lower-cased."""
    words, word, prev = [], "", None
    for c in name:
        if not c.isalnum():
            if word:
                words.append(word)
            word, prev = "", None
            continue
        if prev is not None and ((prev.islower() and c.isupper()) or
                                 (prev.isalpha() and c.isnumeric()) or
                                 (prev.isnumeric() and c.isalpha())):
            if word:
                words.append(word)
            word = ""
        if len(word) < 40:
            word += c.lower()
        prev = c
    if word:
        words.append(word)
    return " ".join(words)


def tool_text(server, own, description, params, title=""):
    """src/search/text.rs embedded, with the gateway's exposed name server__own."""
    out = split_name(f"{server}__{own}") + ". " + title + " " + (description or "")[:600]
    names = " ".join(sorted(params))  # serde_json keeps an object's keys sorted
    if names:
        out += " parameters: " + split_name(names)
    return out + " server " + server


def held_out_names():
    """Own names (split) of every tool the evaluation sets hold."""
    names = set()
    paths = [os.path.join(ROOT, "target/toolsearch/tools.json"),
             os.path.join(EXT, "livemcpbench/tools.json")]
    for p in paths:
        v = json.load(open(p))
        servers = v["servers"] if isinstance(v, dict) else v
        for s in servers:
            for t in s["tools"]:
                names.add(split_name(t["name"]))
    return names


def metatool(git, out):
    des = json.loads(show(git, METATOOL, "dataset/plugin_des.json"))
    big = json.loads(show(git, METATOOL, "dataset/big_tool_des.json"))
    rows = list(csv.DictReader(io.StringIO(show(git, METATOOL, "dataset/data/all_clean_data.csv"))))
    multi = json.loads(show(git, METATOOL, "dataset/data/multi_tool_query_golden.json"))
    ext = json.load(open(os.path.join(EXT, "metatool/tools.json")))["servers"][0]["tools"]
    tools = sorted(t["name"] for t in ext)
    described = {t["name"]: t["description"] for t in ext}
    rng = random.Random(SEED)
    order = tools[:]
    rng.shuffle(order)
    held = set(order[: len(order) // 2])
    with open(os.path.join(ROOT, "bench/toolsearch/metatool-heldout.txt"), "w") as f:
        f.write("# MetaTool tools held out of tool search's training (train/toolsearch/data.py,\n"
                f"# seed {SEED}): the benchmark reports MetaTool on their queries only.\n")
        for t in sorted(held):
            f.write(f"plugins__{t}\n")
    train = [t for t in tools if t not in held]
    text = {t: tool_text("plugins", t, described.get(t) or des.get(t) or big.get(t, ""), []) for t in train}
    by_tool = {}
    for r in rows:
        if r["Tool"] in text:
            by_tool.setdefault(r["Tool"], []).append(r["Query"].strip())
    pairs = []
    for t, qs in sorted(by_tool.items()):
        qs = sorted(set(qs))
        rng.shuffle(qs)
        for q in qs[:40]:
            pairs.append({"q": q, "pos": text[t], "negs": [], "from": "metatool"})
    for m in multi:
        ts = m["tool"]
        if all(t in text for t in ts):
            for t in ts:
                pairs.append({"q": m["query"], "pos": text[t], "negs": [], "from": "metatool-multi"})
    # A tool's description, as a need, finds its name (the definitions themselves).
    for t in train:
        d = described.get(t, "")
        if d:
            pairs.append({"q": d, "pos": text[t], "negs": [], "from": "metatool-definition"})
    print(f"metatool: {len(train)} tools trained on, {len(held)} held out, {len(pairs)} pairs")
    return pairs


def bfcl(git, held_names):
    pairs, dropped = [], 0
    for s in BFCL_SETS:
        qs = [json.loads(l) for l in show(git, GORILLA, f"{BFCL}BFCL_v4_{s}.json").splitlines() if l.strip()]
        answers = {}
        ans_path = f"{BFCL}possible_answer/BFCL_v4_{s}.json"
        for l in show(git, GORILLA, ans_path).splitlines():
            if l.strip():
                a = json.loads(l)
                answers[a["id"]] = [next(iter(g)) for g in a["ground_truth"]]
        for q in qs:
            turns = q["question"][0] if q["question"] else []
            need = " ".join(t["content"] for t in turns if t.get("role") == "user").strip()
            if not need:
                continue
            funcs = {f["name"]: f for f in q["function"]}
            right = [n for n in answers.get(q["id"], []) if n in funcs]
            if not right:
                continue
            def text(f):
                name = f["name"]
                server, _, own = name.rpartition(".")
                server = split_name(server).replace(" ", "-") or "functions"
                props = (f.get("parameters") or {}).get("properties") or {}
                return own, tool_text(server, own, f.get("description", ""), props)
            if any(split_name(text(funcs[n])[0]) in held_names for n in right):
                dropped += 1
                continue
            negs = [text(f)[1] for n, f in funcs.items() if n not in right
                    and split_name(text(f)[0]) not in held_names]
            for n in sorted(set(right)):
                pairs.append({"q": need[:1000], "pos": text(funcs[n])[1], "negs": negs, "from": f"bfcl-{s}"})
    print(f"bfcl: {len(pairs)} pairs ({dropped} dropped: a held-out tool's name)")
    return pairs


def bfcl_multi_turn(git, held_names):
    """BFCL's multi-turn tasks: each user turn as a need for each function its answer
    calls (a step of a task over a few API classes, as LiveMCPBench's are over MCP
    servers), against the other functions of the task's classes."""
    mapping = dict(re.findall(r'"(\w+)": "(\w+\.json)"', show(git, GORILLA, BFCL_CLASS_DOCS)))
    docs = {}
    for cls in sorted(mapping):
        funcs = [json.loads(l) for l in show(git, GORILLA, f"{BFCL}multi_turn_func_doc/{mapping[cls]}").splitlines()
                 if l.strip()]
        server = split_name(cls).replace(" ", "-")
        docs[cls] = {f["name"]: tool_text(server, f["name"], f.get("description", ""),
                                          (f.get("parameters") or {}).get("properties") or {})
                     for f in funcs if split_name(f["name"]) not in held_names}
    answers = {}
    for l in show(git, GORILLA, f"{BFCL}possible_answer/BFCL_v4_{BFCL_MULTI_TURN}.json").splitlines():
        if l.strip():
            a = json.loads(l)
            answers[a["id"]] = a["ground_truth"]
    pairs, dropped = [], 0

    def add(need, called, texts, source):
        """`need` against each function of `called` that is trained on, the task's
        other functions its hard negatives."""
        negs = [t for n, t in sorted(texts.items()) if n not in called]
        for n in called:
            if n in texts:
                pairs.append({"q": need[:1000], "pos": texts[n], "negs": negs, "from": source})

    for l in show(git, GORILLA, f"{BFCL}BFCL_v4_{BFCL_MULTI_TURN}.json").splitlines():
        if not l.strip():
            continue
        q = json.loads(l)
        texts = {}
        for cls in q["involved_classes"]:
            texts.update(docs.get(cls, {}))
        turns = list(zip(q["question"], answers.get(q["id"], [])))
        if "tasks" in MULTI_TURN:
            task = " ".join(m["content"] for turn, _ in turns for m in turn if m.get("role") == "user")
            called = sorted({c.split("(", 1)[0].strip() for _, calls in turns for c in calls})
            add(task, called, texts, f"bfcl-{BFCL_MULTI_TURN}-task")
        if "turns" not in MULTI_TURN:
            continue
        for turn, calls in turns:
            need = " ".join(m["content"] for m in turn if m.get("role") == "user").strip()
            called = sorted({c.split("(", 1)[0].strip() for c in calls})
            if not need or not called:
                continue
            dropped += sum(n not in texts for n in called)
            add(need, called, texts, f"bfcl-{BFCL_MULTI_TURN}")
    print(f"bfcl multi-turn: {len(pairs)} pairs ({dropped} calls dropped: a held-out tool's name)")
    return pairs


def livemcpbench_servers(git):
    """LiveMCPBench's servers: (repository, {tool names}) each."""
    out = []
    for s in json.loads(show(git, LIVEMCPBENCH, "tools/LiveMCPTool/tools.json")):
        web = re.sub(r"\.git$", "", (s.get("web") or "").lower().rstrip("/"))
        names = {t["name"].lower() for x in (s.get("tools") or {}).values() for t in x.get("tools") or []}
        out.append((web.replace("https://github.com/", ""), names, split_name(s["name"])))
    return out


def is_livemcpbench(repo, names, server, bench):
    repo = re.sub(r"\.git$", "", (repo or "").lower().rstrip("/")).replace("https://github.com/", "")
    names = {n.lower() for n in names}
    for web, theirs, their_name in bench:
        if web and repo and (repo == web or web.startswith(repo + "/") or repo.startswith(web)):
            return True
        if not theirs:
            continue
        covered = len(theirs & names) / len(theirs)
        if len(theirs) <= 2:
            if covered == 1 and (their_name in server or server in their_name):
                return True
        elif covered >= 0.6:
            return True
    return False


def first_sentences(text, limit=240):
    """A description's opening, as a need: its first sentences up to `limit` characters,
    one line."""
    text = re.sub(r"\s+", " ", text or "").strip()
    out = ""
    for s in re.split(r"(?<=[.!?])\s+", text):
        if out and len(out) + len(s) > limit:
            break
        out = (out + " " + s).strip()
    return out[:limit]


def toucan(git, bench_git, held_names):
    """Toucan's catalogue of Smithery servers, those whose live tools/list it kept. Two
    kinds of pair: a server of one tool, its overview (the catalogue's words, not the
    tool's) as a need for its tool; and a tool's description's opening as a need, against
    the tools of its own server (hard negatives), for a sample by seed."""
    bench = livemcpbench_servers(bench_git)
    files = subprocess.run(["git", "--git-dir", git, "ls-tree", "--name-only", TOUCAN, "mcp_servers/"],
                           check=True, capture_output=True, text=True).stdout.split()
    rng = random.Random(SEED)
    seen, overview, definitions, excluded, servers = set(), [], [], 0, 0
    digest = hashlib.sha256()
    for f in files:
        v = json.loads(show(git, TOUCAN, f, digest))
        m = v["metadata"]
        r = m.get("remote_server_response") or {}
        if not r.get("is_success") or not r.get("tools"):
            continue
        info = m.get("server_info_crawled") or {}
        server = "-".join(split_name(m.get("server_name") or info.get("name") or "server").split()[:4]) or "server"
        names = [t["name"] for t in r["tools"]]
        if is_livemcpbench(info.get("repository_url"), names, split_name(server), bench):
            excluded += 1
            continue
        tools = []
        for t in r["tools"]:
            d = (t.get("description") or "").strip()
            key = (t["name"], d[:200])
            if split_name(t["name"]) in held_names or len(d) < 20 or key in seen:
                continue
            seen.add(key)
            props = ((t.get("input_schema") or {}).get("properties") or {})
            tools.append((t, tool_text(server, t["name"], d, props if isinstance(props, dict) else {})))
        if not tools:
            continue
        servers += 1
        texts = [x[1] for x in tools]
        if len(r["tools"]) == 1:
            need = first_sentences(info.get("overview") or "")
            if len(need) >= 20:
                overview.append({"q": need, "pos": texts[0], "negs": [], "from": "toucan-overview"})
        rng.shuffle(tools)
        for t, text in tools[:TOUCAN_PER_SERVER]:
            need = first_sentences(t["description"])
            definitions.append({"q": need, "pos": text, "negs": [x for x in texts if x != text],
                                "from": "toucan-definition"})
    # One digest for the 2,120 files: each one's path and SHA-256, in name order.
    pinned("mcp_servers/*.json", TOUCAN, digest.hexdigest())
    rng.shuffle(definitions)
    pairs = overview + definitions[:TOUCAN_PAIRS]
    print(f"toucan: {servers} servers, {excluded} held out (LiveMCPBench's), {len(overview)} overview "
          f"pairs, {min(len(definitions), TOUCAN_PAIRS)} of {len(definitions)} definition pairs")
    return pairs


def main():
    if len(sys.argv) != 6:
        sys.exit(__doc__.split("\n\n")[1])
    mt_git, g_git, t_git, lmb_git, out = sys.argv[1:6]
    os.makedirs(out, exist_ok=True)
    held = held_out_names()
    multi_turn = bfcl_multi_turn(g_git, held) if MULTI_TURN else []
    pairs = metatool(mt_git, out) + bfcl(g_git, held) + multi_turn + toucan(t_git, lmb_git, held)
    with open(os.path.join(out, "train.jsonl"), "w") as f:
        for p in pairs:
            f.write(json.dumps(p) + "\n")
    with open(os.path.join(HERE, "data.sha256.json"), "w") as f:
        json.dump(DATA, f, indent=1, sort_keys=True)
        f.write("\n")
    print(f"{len(pairs)} pairs in {out}/train.jsonl")


if __name__ == "__main__":
    main()
