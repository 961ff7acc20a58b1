"""Reads the three files in one call, edits each, stages and commits."""
import json
import re


def run(t):
    pkg, ver, log = (f"{t.repo}/package.json", f"{t.repo}/src/version.py", f"{t.repo}/CHANGELOG.md")
    files = t.call("files__read_multiple_files", {"paths": [pkg, ver, log]}, need="read several files at once")
    body = files.text.split("\n---\n")[0].lstrip("\n").partition(":\n")[2]
    old = json.loads(body)["version"]
    major, minor, patch = old.split(".")
    new = f"{major}.{minor}.{int(patch) + 1}"
    t.call("files__edit_file", {"path": pkg, "edits": [{"oldText": f'"version": "{old}"', "newText": f'"version": "{new}"'}]},
           need="edit a text file, replacing text")
    t.call("files__edit_file", {"path": ver, "edits": [{"oldText": f'VERSION = "{old}"', "newText": f'VERSION = "{new}"'}]},
           need="edit a text file, replacing text")
    assert re.search(r"^# Changelog$", files.text, re.M)
    t.call("files__edit_file", {"path": log, "edits": [{"oldText": "# Changelog",
                                                        "newText": f"# Changelog\n\n## {new}\n\n- Maintenance release"}]},
           need="edit a text file, replacing text")
    t.call("git__git_add", {"repo_path": t.repo, "files": ["package.json", "src/version.py", "CHANGELOG.md"]},
           need="git add files to the staging area")
    t.call("git__git_commit", {"repo_path": t.repo, "message": f"release: {new}"}, need="git commit the staged changes")
    return f"Released {new}: package.json, src/version.py and CHANGELOG.md updated and committed."
