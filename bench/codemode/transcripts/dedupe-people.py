"""Judgement over a large read: finds the pairs by email, then merges them in three writes."""
import json


def run(t):
    g = json.loads(t.call("memory__read_graph", {}, need="read the whole knowledge graph").text)
    by_email = {}
    for e in g["entities"]:
        for o in e["observations"]:
            if o.startswith("email: "):
                by_email.setdefault(o, []).append(e)
    pairs = [sorted(es, key=lambda e: -len(e["observations"])) for es in by_email.values() if len(es) == 2]
    adds, rels = [], []
    for keep, drop in pairs:
        extra = [o for o in drop["observations"] if o not in keep["observations"]]
        if extra:
            adds.append({"entityName": keep["name"], "contents": extra})
        for r in g["relations"]:
            if drop["name"] in (r["from"], r["to"]):
                rels.append({"from": keep["name"] if r["from"] == drop["name"] else r["from"],
                             "to": keep["name"] if r["to"] == drop["name"] else r["to"],
                             "relationType": r["relationType"]})
    t.call("memory__add_observations", {"observations": adds}, need="add observations to existing entities")
    t.call("memory__create_relations", {"relations": rels}, need="create relations between entities in the knowledge graph")
    t.call("memory__delete_entities", {"entityNames": [d["name"] for _, d in pairs]},
           need="delete entities from the knowledge graph")
    return "Merged: " + "; ".join(f"{d['name']} into {k['name']}" for k, d in pairs) + "."
