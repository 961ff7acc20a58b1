"""The benchmark's tables (Markdown), from run.py's results."""

ARMS = ["full", "search", "code"]
COLUMNS = [
    ("turns", "turns"), ("defs_bytes", "defs B/turn"), ("defs_tokens", "defs tok/turn"),
    ("args_tokens", "args tok"), ("results_bytes", "results B"),
    ("results_tokens", "results tok"), ("input_bytes", "input B"),
    ("input_tokens", "input tok"), ("cached_cold", "cached cold"),
    ("cached_warm", "cached warm"), ("upstream_calls", "upstream"), ("wall_ms", "wall ms"),
]
SUMMED = ["turns", "args_tokens", "answer_tokens", "results_bytes", "results_tokens",
          "input_bytes", "input_tokens", "cached_cold", "cached_warm", "upstream_calls",
          "wall_ms"]


def fmt(v):
    if isinstance(v, float):
        return f"{v:,.0f}" if v >= 100 else f"{v:.1f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def totals(rows):
    ran = [r for r in rows if "missing" not in r]
    t = {k: sum(r[k] for r in ran) for k in SUMMED}
    t["tasks"] = len(ran)
    t["passed"] = sum(1 for r in ran if r["pass"])
    return t


def upstream_equal(by_arm):
    seen = [r["upstream"] for a, r in by_arm.items() if "missing" not in r]
    return all(u == seen[0] for u in seen) if seen else True


def summary(results, arms):
    lines = ["| arm | tasks passed | model turns | input tok | cached cold | cached warm "
             "| args/code tok | results tok | upstream calls | wall ms |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    base = None
    for a in arms:
        rows = [results[t][a] for t in results if a in results[t]]
        if not rows or all("missing" in r for r in rows):
            lines.append(f"| {a} | to be measured | | | | | | | | |")
            continue
        t = totals(rows)
        if a == "full":
            base = t
        rel = (lambda k: f" ({t[k] / base[k]:.2f}x)" if base and base[k] and a != "full" else "")
        lines.append(
            f"| {a} | {t['passed']}/{t['tasks']} | {t['turns']}{rel('turns')} | "
            f"{fmt(t['input_tokens'])}{rel('input_tokens')} | {fmt(t['cached_cold'])}{rel('cached_cold')} | "
            f"{fmt(t['cached_warm'])}{rel('cached_warm')} | {fmt(t['args_tokens'])} | "
            f"{fmt(t['results_tokens'])} | {t['upstream_calls']} | {fmt(t['wall_ms'])} |")
    return "\n".join(lines)


def per_task(results, tasks, arms):
    kinds = {t["id"]: ", ".join(t.get("kind", [])) for t in tasks}
    head = "| task | kind | " + " | ".join(f"{a}: turns / input tok / cached cold / check" for a in arms) + " | upstream equal |"
    lines = [head, "|---|---|" + "---|" * len(arms) + "---|"]
    for tid, by_arm in results.items():
        cells = []
        for a in arms:
            r = by_arm.get(a, {"missing": "not run"})
            if "missing" in r:
                cells.append("to be measured")
            else:
                cells.append(f"{r['turns']} / {fmt(r['input_tokens'])} / {fmt(r['cached_cold'])} / "
                             f"{'pass' if r['pass'] else 'FAIL'}")
        lines.append(f"| {tid} | {kinds.get(tid, '')} | " + " | ".join(cells) +
                     f" | {'yes' if upstream_equal(by_arm) else 'NO'} |")
    return "\n".join(lines)


def detail(results, arm):
    lines = ["| task | " + " | ".join(c for _, c in COLUMNS) + " | misses | check |",
             "|---|" + "---|" * (len(COLUMNS) + 2)]
    rows = []
    for tid, by_arm in results.items():
        r = by_arm.get(arm)
        if not r or "missing" in r:
            continue
        rows.append(r)
        lines.append(f"| {tid} | " + " | ".join(fmt(r[k]) for k, _ in COLUMNS) +
                     f" | {len(r['misses'])} | {'pass' if r['pass'] else r['check'][:80]} |")
    if not rows:
        return None
    t = totals(rows)
    lines.append("| **total** | " + " | ".join(
        fmt(t[k]) if k in t else "" for k, _ in COLUMNS) +
        f" | {sum(len(r['misses']) for r in rows)} | {t['passed']}/{t['tasks']} |")
    return "\n".join(lines)


def sweep_size(sweep, arms):
    lines = ["| log lines | " + " | ".join(f"{a}: results tok / input tok / cached cold" for a in arms) + " |",
             "|---|" + "---|" * len(arms)]
    for size, res in sweep.items():
        (by_arm,) = res.values()
        cells = []
        for a in arms:
            r = by_arm.get(a, {"missing": "-"})
            cells.append("to be measured" if "missing" in r else
                         f"{fmt(r['results_tokens'])} / {fmt(r['input_tokens'])} / {fmt(r['cached_cold'])}"
                         + ("" if r["pass"] else " (FAIL)"))
        lines.append(f"| {size} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def sweep_tools(sweep, arms):
    lines = ["| extra everything servers | tools | " + " | ".join(
        f"{a}: defs tok/turn / input tok / cached cold / passed" for a in arms) + " |",
        "|---|---|" + "---|" * len(arms)]
    for extra, s in sweep.items():
        cells = []
        for a in arms:
            rows = [by[a] for by in s["tasks"].values() if a in by]
            if not rows or any("missing" in r for r in rows):
                cells.append("to be measured")
                continue
            t = totals(rows)
            cells.append(f"{fmt(rows[0]['defs_tokens'])} / {fmt(t['input_tokens'])} / "
                         f"{fmt(t['cached_cold'])} / {t['passed']}/{t['tasks']}")
        lines.append(f"| {extra} | {s['tools']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def markdown(report, tasks):
    results = report.get("tasks", {})
    notes = [f"Arm `{a}` not measured: {x['missing']}" for a, x in report.get("arms", {}).items()
             if x.get("missing")]
    out = [f"Run {report.get('started')} to {report.get('finished')}.", "",
           "### All tasks, per arm", "", summary(results, ARMS), ""] + notes + ["",
           "### Per task", "", per_task(results, tasks, ARMS), ""]
    for a in ARMS:
        d = detail(results, a)
        out += [f"### Arm `{a}`, in detail", ""]
        out += [d if d else "to be measured", ""]
    if "sweep_size" in report:
        out += ["### Sweep: result size (task log-error-counts)", "",
                sweep_size(report["sweep_size"], ARMS), ""]
    if report.get("sweep_error"):
        out += [f"A sweep stopped early: {report['sweep_error']}", ""]
    if report.get("sweep_tools"):
        out += ["### Sweep: tool count (tasks " + ", ".join(
            next(iter(report["sweep_tools"].values()))["tasks"].keys()) + ")", "",
            sweep_tools(report["sweep_tools"], ARMS), ""]
    return "\n".join(out)
