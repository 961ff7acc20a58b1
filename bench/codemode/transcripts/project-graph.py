"""Finds the table, reads it, creates the entities in one call and the relations in one."""
import ast


def run(t):
    t.call("sqlite__list_tables", {}, need="list the tables of the SQLite database")
    rows = ast.literal_eval(t.call("sqlite__read_query", {"query": "SELECT name, status, owner FROM projects"},
                                   need="run a SELECT query on the SQLite database").text)
    owners = sorted({r["owner"] for r in rows})
    entities = [{"name": r["name"], "entityType": "project", "observations": [f"status: {r['status']}"]} for r in rows]
    entities += [{"name": o, "entityType": "person", "observations": []} for o in owners]
    t.call("memory__create_entities", {"entities": entities}, need="create entities in the knowledge graph")
    t.call("memory__create_relations", {"relations": [
        {"from": r["name"], "to": r["owner"], "relationType": "owned_by"} for r in rows]},
        need="create relations between entities in the knowledge graph")
    return f"Added {len(rows)} projects and {len(owners)} owners to the graph."
