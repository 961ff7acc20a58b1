"""Lists the folder, then each subfolder (a turn each), then writes the summary."""


def entries(text, kind):
    return [l.split(" ", 1)[1] for l in text.splitlines() if l.startswith(f"[{kind}] ")]


def run(t):
    top = t.call("files__list_directory", {"path": f"{t.ws}/dataset"}, need="list the files in a directory")
    lines = []
    for folder in sorted(entries(top.text, "DIR")):
        listing = t.call("files__list_directory", {"path": f"{t.ws}/dataset/{folder}"},
                         need="list the files in a directory")
        files = entries(listing.text, "FILE")
        lines.append(f"{folder}: {len(files)} files, {sum(f.endswith('.csv') for f in files)} csv")
    t.call("files__write_file", {"path": f"{t.ws}/dataset/SUMMARY.md", "content": "\n".join(lines) + "\n"},
           need="write a text file")
    return "Wrote dataset/SUMMARY.md:\n" + "\n".join(lines)
