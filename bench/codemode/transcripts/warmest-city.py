"""Three lookups, one write."""
import json


def run(t):
    temps = {}
    for city in ["New York", "Chicago", "Los Angeles"]:
        r = t.call("everything__get-structured-content", {"location": city}, need=["get the weather for a city", "structured content tool of the test server"])
        temps[city] = (r.structured or json.loads(r.text))["temperature"]
    city = max(temps, key=temps.get)
    t.call("memory__create_entities", {"entities": [{"name": "Weather check", "entityType": "note",
                                                     "observations": [f"warmest: {city} ({temps[city]} C)"]}]},
           need="create entities in the knowledge graph")
    return f"{city} is the warmest ({temps[city]} C); recorded in the graph."
