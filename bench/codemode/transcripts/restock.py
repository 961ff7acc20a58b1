"""Reads the schema and the low rows (to report the number), then two writes."""
import ast


def run(t):
    t.call("sqlite__list_tables", {}, need="list the tables of the SQLite database")
    t.call("sqlite__describe_table", {"table_name": "products"}, need="describe a database table's columns")
    t.call("sqlite__describe_table", {"table_name": "restock_log"}, need="describe a database table's columns")
    low = t.call("sqlite__read_query", {"query": "SELECT id, stock, reorder_level FROM products WHERE stock < reorder_level"},
                 need="run a SELECT query on the SQLite database")
    n = len(ast.literal_eval(low.text))
    t.call("sqlite__write_query", {"query": (
        "INSERT INTO restock_log (product_id, qty, note) "
        "SELECT id, 2 * reorder_level - stock, 'auto' FROM products WHERE stock < reorder_level")},
        need="run an INSERT or UPDATE query on the SQLite database")
    t.call("sqlite__write_query", {"query": "UPDATE products SET stock = 2 * reorder_level WHERE stock < reorder_level"},
           need="run an INSERT or UPDATE query on the SQLite database")
    return f"Restocked {n} products and logged each in restock_log."
