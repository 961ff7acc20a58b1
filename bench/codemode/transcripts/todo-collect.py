"""Finds the .py files, reads them all in one call, writes TODO.md."""
import os


def run(t):
    src = f"{t.ws}/src"
    found = t.call("files__search_files", {"path": src, "pattern": "**/*.py"},
                   need="find files matching a glob pattern in a folder")
    paths = sorted(p for p in found.text.splitlines() if p.endswith(".py"))
    files = t.call("files__read_multiple_files", {"paths": paths}, need="read several files at once")
    todos = []
    for block in files.text.split("\n---\n"):
        head, _, body = block.lstrip("\n").partition(":\n")
        for n, line in enumerate(body.split("\n"), 1):
            if "TODO:" in line:
                todos.append((os.path.relpath(head, src), n, line.split("TODO:", 1)[1].strip()))
    todos.sort()
    content = "".join(f"{p}:{n}: {text}\n" for p, n, text in todos)
    t.call("files__write_file", {"path": f"{t.ws}/TODO.md", "content": content}, need="write a text file")
    return f"Wrote {len(todos)} TODOs to TODO.md."
