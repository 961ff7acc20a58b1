"""Schema, one join, make the folder, write the file."""
import ast


def run(t):
    t.call("sqlite__list_tables", {}, need="list the tables of the SQLite database")
    t.call("sqlite__describe_table", {"table_name": "customers"}, need="describe a database table's columns")
    t.call("sqlite__describe_table", {"table_name": "orders"}, need="describe a database table's columns")
    rows = ast.literal_eval(t.call("sqlite__read_query", {"query": (
        "SELECT o.id, o.ordered_at, o.total FROM orders o JOIN customers c ON c.id = o.customer_id "
        "WHERE c.last_name = 'Lindqvist' ORDER BY o.ordered_at, o.id")},
        need="run a SELECT query on the SQLite database").text)
    csv = "order_id,date,total\n" + "".join(f"{r['id']},{r['ordered_at']},{r['total']:.2f}\n" for r in rows)
    t.call("files__create_directory", {"path": f"{t.ws}/exports"}, need="create a directory")
    t.call("files__write_file", {"path": f"{t.ws}/exports/lindqvist.csv", "content": csv}, need="write a text file")
    return f"Exported {len(rows)} orders to exports/lindqvist.csv."
