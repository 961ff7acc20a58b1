"""One conversion a row (a turn each), then the file."""
import json


def run(t):
    rows = [l.split(",") for l in t.call("files__read_text_file", {"path": f"{t.ws}/deadlines.csv"},
                                         need="read a text file").text.strip().splitlines()[1:]]
    out = "task,utc_time\n"
    for task, hhmm, tz in rows:
        conv = t.call("time__convert_time", {"source_timezone": tz, "time": hhmm, "target_timezone": "UTC"},
                      need="convert a time between time zones")
        out += f"{task},{json.loads(conv.text)['target']['datetime'][11:16]}\n"
    t.call("files__write_file", {"path": f"{t.ws}/deadlines_utc.csv", "content": out}, need="write a text file")
    return f"Wrote {len(rows)} deadlines in UTC to deadlines_utc.csv."
