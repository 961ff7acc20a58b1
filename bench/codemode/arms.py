"""The three ways a task is replayed through the gateway, one session each:

  full    the model sees every tool's definition every turn; one tool call a turn, by
          the tool's own name (the transcript's calls, as written).
  search  the model sees search_tools and call_tool; before a call whose tool no earlier
          search of the task returned, it searches with the transcript's `need` for that
          call (then its next wordings, if the tool is still not among the results), and
          then calls through call_tool. A tool no wording found is a search miss: the
          call is still made (the upstream calls stay the same) and the miss reported.
  code    the model sees search_tools, call_tool and run_code: the task's script
          (scripts/<id>.js, the workspace paths substituted as in the statement) in one
          run_code call, after one search_tools turn per `// search: QUERY` line at its
          top; the run's `structuredContent.result` is the final answer. No script, or a
          gateway without run_code: the arm is reported missing, never stood in for.
"""
import json
import os

from count import Conversation


class Turns:
    """What a transcript sees: the workspace paths, the sweep size, and `call`, one model
    turn each."""

    def __init__(self, arm, env, size, conv):
        self.arm = arm
        self.ws = env.ws
        self.repo = env.repo
        self.size = size
        self.conv = conv
        self.known = set()
        self.misses = []
        self.ms = 0.0

    def _call(self, name, args):
        res = self.arm.session.call(name, args)
        self.ms += res.ms
        self.conv.add(name, args, res.text)
        return res

    def call(self, tool, args, need):
        if self.arm.name == "full":
            return self._call(tool, args)
        wordings = [need] if isinstance(need, str) else list(need)
        for query in wordings:
            if tool in self.known:
                break
            found = self._call("search_tools", {"query": query})
            for t in (found.structured or {}).get("tools", []):
                self.known.add(t.get("name"))
        if tool not in self.known:
            self.misses.append(tool)
        return self._call("call_tool", {"name": tool, "arguments": args})


class Arm:
    def __init__(self, name, session, tools, missing=None):
        self.name = name
        self.session = session
        self.tools = tools
        self.missing = missing

    def run(self, task, env, size, transcript, scripts_dir, statement):
        """Runs the task; returns its conversation, final answer, search misses, time
        spent in calls (ms), the run's inner calls (code mode) and the error that ended it
        early, if one did."""
        from count import definitions

        conv = Conversation(definitions(self.tools), statement)
        turns = Turns(self, env, size, conv)
        answer, inner, error = None, None, None
        try:
            if self.name == "code":
                answer, inner = self._code(task, env, turns, scripts_dir)
            else:
                answer = transcript(turns)
        except Exception as e:  # noqa: BLE001 - reported in the task's row, the run goes on
            error = f"{type(e).__name__}: {e}"
        if answer is not None and not isinstance(answer, str):
            answer = json.dumps(answer)
        conv.finish(answer)
        return {"conv": conv, "answer": answer, "misses": turns.misses, "ms": turns.ms,
                "inner": inner, "error": error}

    def _code(self, task, env, turns, scripts_dir):
        with open(os.path.join(scripts_dir, task["id"] + ".js")) as f:
            code = env.subst(f.read())
        for line in code.splitlines():
            if not line.startswith("// search:"):
                break
            found = turns._call("search_tools", {"query": line[len("// search:"):].strip()})
            for t in (found.structured or {}).get("tools", []):
                turns.known.add(t.get("name"))
        res = turns._call("run_code", {"code": code})
        sc = res.structured or {}
        result = sc.get("result")
        if res.is_error:
            raise RuntimeError(f"run_code failed ({sc.get('bound') or 'error'}): {res.text[:300]}")
        answer = result if isinstance(result, str) else json.dumps(result)
        return answer, sc.get("calls", [])
