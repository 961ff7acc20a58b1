"""Judgement: reads the list, checks Atlas and who already exists, then creates the new
people, adds the role to the existing ones, and relates everyone to Atlas."""
import json


def run(t):
    csv = t.call("files__read_text_file", {"path": f"{t.ws}/team.csv"}, need="read a text file")
    people = [line.split(",", 1) for line in csv.text.strip().splitlines()[1:]]
    found = json.loads(t.call("memory__open_nodes", {"names": ["Atlas"] + [n for n, _ in people]},
                              need="open entities of the knowledge graph by name").text)
    existing = {e["name"] for e in found["entities"]}
    assert "Atlas" in existing
    new = [{"name": n, "entityType": "person", "observations": [f"role: {r}"]} for n, r in people if n not in existing]
    old = [{"entityName": n, "contents": [f"role: {r}"]} for n, r in people if n in existing]
    t.call("memory__create_entities", {"entities": new}, need="create entities in the knowledge graph")
    if old:
        t.call("memory__add_observations", {"observations": old}, need="add observations to existing entities")
    t.call("memory__create_relations", {"relations": [
        {"from": n, "to": "Atlas", "relationType": "works_on"} for n, _ in people]},
        need="create relations between entities in the knowledge graph")
    return f"Added {len(new)} people, updated {len(old)} already there, and linked all {len(people)} to Atlas."
