"""One log call with a date filter, then write, stage and commit."""
import re


def run(t):
    log = t.call("git__git_log", {"repo_path": t.repo, "max_count": 200, "start_timestamp": "2026-06-01"},
                 need="show the git commit log since a date")
    subjects = re.findall(r"^Message: (.*)$", log.text, re.M)
    feats = [s for s in subjects if s.startswith("feat:")]
    fixes = [s for s in subjects if s.startswith("fix:")]
    text = "# Changelog\n\n## Features\n\n" + "".join(f"- {s}\n" for s in feats) + \
        "\n## Fixes\n\n" + "".join(f"- {s}\n" for s in fixes)
    t.call("files__write_file", {"path": f"{t.repo}/CHANGELOG.md", "content": text}, need="write a text file")
    t.call("git__git_add", {"repo_path": t.repo, "files": ["CHANGELOG.md"]}, need="git add a file to the staging area")
    t.call("git__git_commit", {"repo_path": t.repo, "message": "docs: changelog"}, need="git commit the staged changes")
    return f"CHANGELOG.md lists {len(feats)} features and {len(fixes)} fixes, committed as 'docs: changelog'."
