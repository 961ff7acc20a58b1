"""Lists the logs by size, reads the biggest, makes reports/ (the model cannot know it
exists; creating it is harmless when it does) and writes the ERROR lines."""


def run(t):
    listing = t.call("files__list_directory_with_sizes", {"path": f"{t.ws}/logs", "sortBy": "size"},
                     need="list the files in a folder with their sizes")
    name = next(l for l in listing.text.splitlines() if l.startswith("[FILE]")).split()[1]
    log = t.call("files__read_text_file", {"path": f"{t.ws}/logs/{name}"}, need="read a text file")
    errors = [l for l in log.text.splitlines() if " ERROR " in l]
    t.call("files__create_directory", {"path": f"{t.ws}/reports"}, need="create a directory")
    t.call("files__write_file", {"path": f"{t.ws}/reports/errors.txt", "content": "\n".join(errors) + "\n"},
           need="write a text file")
    return f"The biggest log is {name}; I copied its {len(errors)} ERROR lines into reports/errors.txt."
