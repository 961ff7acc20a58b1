"""Reads the whole log (its size is the sweep's), counts, creates the table, inserts."""
import collections
import re


def run(t):
    log = t.call("files__read_text_file", {"path": f"{t.ws}/app.log"}, need="read a text file")
    counts = collections.Counter(re.findall(r" ERROR \[(\w+)\]", log.text))
    t.call("sqlite__create_table", {"query": "CREATE TABLE error_counts (component TEXT, errors INTEGER)"},
           need="create a table in the SQLite database")
    values = ", ".join(f"('{c}', {n})" for c, n in sorted(counts.items()))
    t.call("sqlite__write_query", {"query": f"INSERT INTO error_counts (component, errors) VALUES {values}"},
           need="run an INSERT query on the SQLite database")
    return f"Stored error counts for {len(counts)} components."
