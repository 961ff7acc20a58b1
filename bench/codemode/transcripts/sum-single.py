"""A single call."""
import re


def run(t):
    r = t.call("everything__get-sum", {"a": 48213.5, "b": 1977.25}, need="add two numbers")
    return f"48213.5 + 1977.25 = {re.search(r'is ([-0-9.]+)', r.text).group(1).rstrip('.')}"
