"""A single call."""
import json


def run(t):
    found = json.loads(t.call("memory__search_nodes", {"query": "Ada Lovelace"},
                              need="search the knowledge graph for a person").text)
    ada = next(e for e in found["entities"] if e["name"] == "Ada Lovelace")
    ext = next(o for o in ada["observations"] if o.startswith("extension: ")).split(": ", 1)[1]
    return f"Ada Lovelace's extension is {ext}."
