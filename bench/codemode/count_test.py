"""A differential test of count.py's arithmetic: random conversations, counted by
`Conversation.figures` and by a naive model that lays out every turn's input as a list
of messages and finds the cached part as the longest common prefix with the previous
turn's input and output. run.py runs it before every benchmark; alone:

    target/codemode/venv/bin/python bench/codemode/count_test.py
"""
import random
import string

import count


def naive(conv):
    head = [conv.system, conv.defs, conv.user]
    static = 2  # the system prompt and the definitions
    msgs = [head]
    for call, res in conv.calls:
        msgs.append(msgs[-1] + [call, res])
    total_t = total_b = cold = warm = 0.0
    for k, inp in enumerate(msgs):
        total_t += sum(p.tokens for p in inp)
        total_b += sum(p.bytes for p in inp)
        if k == 0:
            cached_cold, cached_warm = [], inp[:static]
        else:
            before = msgs[k - 1] + [conv.calls[k - 1][0]]
            n = 0
            while n < min(len(before), len(inp)) and before[n] is inp[n]:
                n += 1
            cached_cold = cached_warm = inp[:n]
        for cached, acc in ((cached_cold, "cold"), (cached_warm, "warm")):
            c = sum(p.tokens for p in cached)
            cost = count.CACHE_READ * c + count.CACHE_WRITE * (sum(p.tokens for p in inp) - c)
            if acc == "cold":
                cold += cost
            else:
                warm += cost
    return {"turns": len(msgs), "input_tokens": total_t, "input_bytes": total_b,
            "cached_cold": round(cold), "cached_warm": round(warm)}


def text(rng, n):
    return "".join(rng.choice(string.ascii_letters + " {}\":,é") for _ in range(n))


def main(cases=200):
    rng = random.Random(7)
    for _ in range(cases):
        conv = count.Conversation([text(rng, rng.randint(0, 400)) for _ in range(rng.randint(0, 5))],
                                  text(rng, rng.randint(1, 200)))
        for _ in range(rng.randint(0, 8)):
            conv.add(text(rng, 8), {"a": text(rng, rng.randint(0, 50))}, text(rng, rng.randint(0, 3000)))
        conv.finish(text(rng, rng.randint(0, 100)))
        got, want = conv.figures(), naive(conv)
        for k, v in want.items():
            if abs(got[k] - v) > 1:
                raise AssertionError(f"{k}: figures() {got[k]}, the naive count {v}")
    return cases


if __name__ == "__main__":
    print(f"count.py: {main()} random conversations agree with the naive count")
