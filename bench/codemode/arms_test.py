"""The arms' plumbing against a stand-in session (no gateway): the search arm searches
only for a tool no earlier search returned, tries the next wording when a search misses,
and reports a tool no wording found; the code arm sends one search_tools turn per
`// search:` line, then the file (paths substituted) as run_code's `code`, reads the
answer from `structuredContent.result` and the inner calls from `.calls`, and a failed
run is the task's error, not an answer. run.py runs it before every benchmark; alone:

    target/codemode/venv/bin/python bench/codemode/arms_test.py
"""
import os
import tempfile

from arms import Arm
from client import Result


class FakeSession:
    def __init__(self, answers):
        self.answers = answers
        self.sent = []

    def call(self, name, args):
        self.sent.append((name, args))
        text, structured, is_error = self.answers(name, args)
        return Result(text, structured, is_error, 1.0)


class FakeEnv:
    ws = "/w"
    repo = "/w/repo"

    def subst(self, text):
        return text.replace("{ws}", self.ws).replace("{repo}", self.repo)


def searching(name, args):
    if name == "search_tools":
        found = {"read a file": ["files__read_text_file", "files__write_file"],
                 "weather": [], "structured content": ["everything__get-structured-content"]}
        tools = found.get(args["query"], [])
        return "\n".join(tools), {"tools": [{"name": t} for t in tools]}, False
    return "ok", None, False


def test_search_arm():
    session = FakeSession(searching)
    arm = Arm("search", session, [])

    def transcript(t):
        t.call("files__read_text_file", {"path": "a"}, need="read a file")
        t.call("files__write_file", {"path": "b", "content": "x"}, need="write a file")
        t.call("everything__get-structured-content", {}, need=["weather", "structured content"])
        t.call("memory__read_graph", {}, need="the graph")
        return "done"

    out = arm.run({"id": "x"}, FakeEnv(), None, transcript, "", "do it")
    names = [n for n, _ in session.sent]
    assert names == ["search_tools", "call_tool", "call_tool", "search_tools", "search_tools",
                     "call_tool", "search_tools", "call_tool"], names
    assert session.sent[2] == ("call_tool", {"name": "files__write_file",
                                             "arguments": {"path": "b", "content": "x"}})
    assert out["misses"] == ["memory__read_graph"], out["misses"]
    assert out["answer"] == "done" and out["error"] is None
    assert out["conv"].figures()["turns"] == 9


def running(result, is_error=False):
    def answers(name, args):
        if name == "search_tools":
            return "found", {"tools": [{"name": "files__read_text_file"}]}, False
        return "rendered", result, is_error

    return answers


def test_code_arm():
    with tempfile.TemporaryDirectory() as scripts:
        body = "// search: read a file\n// search: write a file\nBODY {ws}/a\n"
        with open(os.path.join(scripts, "x.js"), "w") as f:
            f.write(body)
        session = FakeSession(running({"result": {"n": 3}, "logs": [],
                                       "calls": [{"tool": "a", "ok": True, "ms": 1}] * 4}))
        out = Arm("code", session, []).run({"id": "x"}, FakeEnv(), None, None, scripts, "do it")
        assert [n for n, _ in session.sent] == ["search_tools", "search_tools", "run_code"]
        assert session.sent[0][1] == {"query": "read a file"}
        assert session.sent[2][1] == {"code": body.replace("{ws}", "/w")}
        assert out["answer"] == '{"n": 3}' and out["inner"] and len(out["inner"]) == 4
        assert out["conv"].figures()["turns"] == 4

        session = FakeSession(running({"result": "It is 4400."}))
        out = Arm("code", session, []).run({"id": "x"}, FakeEnv(), None, None, scripts, "q")
        assert out["answer"] == "It is 4400."

        session = FakeSession(running({"bound": "time", "logs": [], "calls": []}, is_error=True))
        out = Arm("code", session, []).run({"id": "x"}, FakeEnv(), None, None, scripts, "q")
        assert out["answer"] is None and "time" in out["error"], out


def main():
    test_search_arm()
    test_code_arm()
    return 2


if __name__ == "__main__":
    print(f"arms.py: {main()} stand-in runs behave as documented")
