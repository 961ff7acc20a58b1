"""Judgement between steps: reads the log, then opens the commits whose subjects look
like configuration changes first (newest first), then the others, until a diff adds
`timeout = 0`."""
import re


def run(t):
    log = t.call("git__git_log", {"repo_path": t.repo, "max_count": 50}, need="show the git commit log")
    commits = re.findall(r"^Commit: (\w+)\nAuthor: (.*)\nDate: .*\nMessage: (.*)$", log.text, re.M)
    likely = [c for c in commits if re.search(r"config|setting|tweak", c[2], re.I)]
    order = likely + [c for c in commits if c not in likely]
    for sha, author, _ in order:
        shown = t.call("git__git_show", {"repo_path": t.repo, "revision": sha}, need="show a git commit's changes")
        if re.search(r"^\+timeout = 0$", shown.text, re.M):
            return f"It was commit {sha[:7]} by {author}."
    return "I could not find the commit."
