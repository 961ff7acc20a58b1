"""The log (40 commits), the table, one INSERT with every row, one GROUP BY."""
import ast
import re


def q(s):
    return "'" + s.replace("'", "''") + "'"


def run(t):
    log = t.call("git__git_log", {"repo_path": t.repo, "max_count": 40}, need="show the git commit log")
    commits = re.findall(r"^Commit: (\w+)\nAuthor: (.*)\nDate: (.*)\nMessage: (.*)$", log.text, re.M)
    t.call("sqlite__create_table", {"query": "CREATE TABLE commits (hash TEXT, author TEXT, date TEXT, subject TEXT)"},
           need="create a table in the SQLite database")
    values = ", ".join(f"({q(h)}, {q(a)}, {q(d)}, {q(s)})" for h, a, d, s in commits)
    t.call("sqlite__write_query", {"query": f"INSERT INTO commits (hash, author, date, subject) VALUES {values}"},
           need="run an INSERT query on the SQLite database")
    top = ast.literal_eval(t.call("sqlite__read_query", {"query": (
        "SELECT author, COUNT(*) AS n FROM commits GROUP BY author ORDER BY n DESC LIMIT 1")},
        need="run a SELECT query on the SQLite database").text)[0]
    return f"{top['author']} authored the most of the last 40 commits ({top['n']})."
