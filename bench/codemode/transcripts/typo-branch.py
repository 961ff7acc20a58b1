"""Branch, switch, read the README, fix each line, stage, commit."""


def run(t):
    t.call("git__git_create_branch", {"repo_path": t.repo, "branch_name": "fix/receive"},
           need="create a new git branch")
    t.call("git__git_checkout", {"repo_path": t.repo, "branch_name": "fix/receive"},
           need="switch to a git branch")
    readme = t.call("files__read_text_file", {"path": f"{t.repo}/README.md"}, need="read a text file")
    edits = [{"oldText": line, "newText": line.replace("recieve", "receive")}
             for line in readme.text.splitlines() if "recieve" in line]
    t.call("files__edit_file", {"path": f"{t.repo}/README.md", "edits": edits}, need="edit a text file, replacing text")
    t.call("git__git_add", {"repo_path": t.repo, "files": ["README.md"]}, need="git add a file to the staging area")
    t.call("git__git_commit", {"repo_path": t.repo, "message": "Fix spelling of receive"},
           need="git commit the staged changes")
    return f"Fixed {len(edits)} lines on branch fix/receive and committed."
