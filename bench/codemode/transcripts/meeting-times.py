"""Reads the note, converts twice, writes the note back with two more lines."""
import json
import re


def run(t):
    note = t.call("files__read_text_file", {"path": f"{t.ws}/meeting.txt"}, need="read a text file").text
    hhmm, tz = re.search(r"(\d\d:\d\d) (\S+)", note).groups()
    lines = []
    for target in ["Europe/Berlin", "Asia/Tokyo"]:
        conv = t.call("time__convert_time", {"source_timezone": tz, "time": hhmm, "target_timezone": target},
                      need="convert a time between time zones")
        lines.append(f"{target}: {json.loads(conv.text)['target']['datetime'][11:16]}")
    t.call("files__write_file", {"path": f"{t.ws}/meeting.txt", "content": note.rstrip("\n") + "\n" + "\n".join(lines) + "\n"},
           need="write a text file")
    return "Added " + " and ".join(lines) + " to meeting.txt."
