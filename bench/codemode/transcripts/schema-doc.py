"""Lists the tables, describes each (one turn each), makes docs/, writes the page."""
import ast


def run(t):
    tables = sorted(r["name"] for r in ast.literal_eval(
        t.call("sqlite__list_tables", {}, need="list the tables of the SQLite database").text))
    out = "# Schema\n"
    for name in tables:
        cols = ast.literal_eval(t.call("sqlite__describe_table", {"table_name": name},
                                       need="describe a database table's columns").text)
        out += f"\n## {name}\n\n" + "".join(f"- {c['name']}: {c['type']}\n" for c in cols)
    t.call("files__create_directory", {"path": f"{t.ws}/docs"}, need="create a directory")
    t.call("files__write_file", {"path": f"{t.ws}/docs/schema.md", "content": out}, need="write a text file")
    return f"Documented {len(tables)} tables in docs/schema.md."
